import sys

from hf_collector.ingest.cli import main

sys.exit(main())
