"""RQ job entry points: group flushes and housekeeping sweeps."""
