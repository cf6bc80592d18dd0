import sys

from app_code.local.cli import main

sys.exit(main())
