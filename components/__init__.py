"""Pulumi component resources of the miko-platform program, one concern per module."""
