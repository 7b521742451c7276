"""The application: configuration, command line, wiring, channel adapters, scheduler."""
