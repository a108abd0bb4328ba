from . import test_quota_cron
