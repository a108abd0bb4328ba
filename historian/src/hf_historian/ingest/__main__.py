import sys

from hf_historian.ingest.cli import main

sys.exit(main())
