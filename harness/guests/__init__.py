"""Guest kernels: Debian kernels fetched into a cache, booted with virtme-ng as xdist workers."""
