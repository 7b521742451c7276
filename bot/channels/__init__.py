"""Channel adapters: translate platform events to `Inbound` and render `Outbound`. Nothing else."""
