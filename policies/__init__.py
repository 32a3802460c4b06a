"""miko-platform CrossGuard policy pack: policies by domain, assembled in `policies.pack`."""
