import sys

from cdk_data_tier.app.cli import main

sys.exit(main())
