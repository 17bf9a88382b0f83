// SPDX-License-Identifier: MIT
// Includes <linux/virtio_ring.h> for its constants and vring_desc only.
// VIRTIO_RING_NO_LEGACY hides the legacy vring_init() helpers, which are C
// (implicit void* conversions) and do not compile as C++. The avail/used
// structs there end in flexible arrays; queue.cc computes those layouts by
// hand instead.
#ifndef VIRTIO_VIRTIO_RING_UAPI_H_
#define VIRTIO_VIRTIO_RING_UAPI_H_

#ifndef VIRTIO_RING_NO_LEGACY
#define VIRTIO_RING_NO_LEGACY
#endif
#include <linux/virtio_ring.h>

#endif  // VIRTIO_VIRTIO_RING_UAPI_H_
