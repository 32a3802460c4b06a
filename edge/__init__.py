"""The edge stack (Pulumi project miko-edge): run by the Pulumi CLI from this directory."""
