"""Give the demo a predictive-maintenance job (run inside `odoo shell` after demo_seed.py, `env` given).

Press 1's spindle bearing wears (the simulator's physics): two days of its past are written to the
historian from the same physics, failures included (state 2, down), a job learns from them to give the
probability of a failure within the next 30 minutes, its first score goes on the press's machine screen,
and Odoo's scoring cron takes over on the live data the collector brings. Safe to re-run: an existing
job is left as it is.
"""

from datetime import UTC, datetime, timedelta

from hf_collector.simulate.machine import Machine
from hf_historian.writer import HistorianWriter, Sample

JOB_NAME = "Press 1 bearing"
HISTORY = timedelta(days=2)
STEP_S = 10
INPUTS = ("temperature", "spindle_speed", "vibration")

Job = env["hf.ml.job"]
job = Job.search([("name", "=", JOB_NAME)], limit=1)
workcenter = env["mrp.workcenter"].search([("hf_uns_path", "=like", "%/press1")], limit=1)
if job:
    print(f"ML job '{JOB_NAME}' exists: left as it is")
elif not workcenter:
    print("no press1 workcell in this database: no ML job")
else:
    tags = {t.name: t for t in env["hf.uns.tag"].search([("workcenter_id", "=", workcenter.id)])}
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    # the press's past, from the simulator's physics (the live press is Machine(seed=2, cycle_time_s=3.0)),
    # stepped by the second (the simulator steps 0.2 s; a 10 s step makes at most one part), its part
    # counters with it: the press's OEE over this past then has the parts its running time made
    machine = Machine(seed=20, cycle_time_s=3.0)
    start = now - HISTORY
    samples, failures = [], 0
    for i in range(int(HISTORY.total_seconds()) // STEP_S):
        was_down = machine.state == "down"
        for _ in range(STEP_S):
            machine.step(1.0)
        failures += machine.state == "down" and not was_down
        ms = int((start + timedelta(seconds=i * STEP_S)).timestamp() * 1000)
        for name in (*INPUTS, "state", "good_count", "scrap_count"):
            value = machine.state_code if name == "state" else getattr(machine, name)
            samples.append(Sample(tags[name].id, ms, float(value)))
    HistorianWriter(env.cr).write(samples)
    equipment = env["maintenance.equipment"].search([("name", "=", "Press 1 spindle")], limit=1) or env[
        "maintenance.equipment"
    ].create({"name": "Press 1 spindle"})
    job = Job.create(
        {
            "name": JOB_NAME,
            "kind": "maintenance",
            "workcenter_id": workcenter.id,
            "equipment_id": equipment.id,
            "tag_ids": [(6, 0, [tags[name].id for name in INPUTS])],
            "failure_source": "tag",
            "failure_tag_id": tags["state"].id,
            "failure_value": 2.0,
            "horizon_hours": 0.5,
            "training_days": HISTORY.days,
            "window_minutes": 5,
            "rolling_windows": "5,15",
            "threshold": 0.5,
            "score_interval_minutes": 5,
        }
    )
    job.action_train()
    job._hf_run_training(now)
    if job.state != "trained":
        print(f"ML job '{JOB_NAME}' did not train: {job.last_error}")
    else:
        job._hf_score_tag()  # now, so the press's screen (and a screen generated later) shows the score tile
        version = job.active_version_id
        print(
            f"ML job '{JOB_NAME}': trained on {len(samples):,} samples with {failures} failures "
            f"(held-out F1 {version.f1:.2f}, lead {version.lead_time_minutes:.0f} min); live score on the "
            f"press's machine screen, a maintenance request on 'Press 1 spindle' when it reaches {job.threshold}"
        )
        # the press's screen shows the score (a screen generated later picks the score tag up by itself)
        for screen in workcenter.hf_screen_ids if "hf_screen_ids" in workcenter else ():
            if not screen.widget_ids.filtered(lambda w: w.kind == "ml_score"):
                bottom = max((w.y + w.h for w in screen.widget_ids), default=0)
                screen.widget_ids = [
                    (
                        0,
                        0,
                        {
                            "kind": "ml_score",
                            "name": "Bearing failure risk",
                            "tag_id": job.score_tag_id.id,
                            "x": 0,
                            "y": bottom,
                            "w": 3,
                            "h": 2,
                        },
                    )
                ]
env.cr.commit()
