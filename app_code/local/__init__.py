"""The local twin: the deployed data tier rebuilt on loopback from the synthesized templates."""
