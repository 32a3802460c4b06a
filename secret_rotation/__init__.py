"""Rotating one credential of one stack through `pulumi config set --secret`."""
