"""The cloud-side ingest: UNS ``_historian`` messages from MQTT into the historian."""
