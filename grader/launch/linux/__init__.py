"""What only Linux has: the fork server, the launcher and its sandbox, the process sweep, /proc readings."""
