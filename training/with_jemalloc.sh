#!/bin/sh
# Runs a command (a training step) with jemalloc as its allocator, keeping freed memory for reuse:
#
#     training/with_jemalloc.sh /usr/bin/python3 -m training.refit_heads --run ...
#
# Why: torch allocates and frees its activation buffers at every layer. glibc hands each buffer over
# 32 MiB straight back to the kernel (munmap) and the next layer faults fresh pages in again. On
# paravirtualised CPU machines a page fault is expensive, and a batch of 64 faces cut into 49
# mirrored patches has activations of about 1 GB, so the trunk pass spends as much time in the kernel
# as in the convolutions. With jemalloc told never to return memory (dirty_decay_ms:-1), the pages are
# faulted in once. Measured on a 2-core machine: 128 faces through rrf28's mirrored trunk took 53 s
# (24.5 s of it in the kernel) with glibc and 12 s (3.0 s) with this.
# It needs Debian's libjemalloc2 (apt-get install -y libjemalloc2); without it the command runs as is.
set -e
lib=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -n 1)
if [ -n "$lib" ]; then
  export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
  export MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1,retain:true"
else
  echo "with_jemalloc.sh: libjemalloc2 is not installed (apt-get install -y libjemalloc2); running with glibc's allocator" >&2
fi
exec "$@"
