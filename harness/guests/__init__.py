"""Guest kernels: found or fetched by `sources/`, booted with virtme-ng as xdist workers."""
