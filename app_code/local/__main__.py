import sys

from cdk_data_tier.app.local.cli import main

sys.exit(main())
