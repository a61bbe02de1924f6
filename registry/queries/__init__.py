"""Read queries: everything the CLI, the dashboard and the reports read; nothing here writes."""
