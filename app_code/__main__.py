import sys

from app_code.cli import main

sys.exit(main())
