// SPDX-License-Identifier: MIT
// <linux/virtio_net.h> for C++: the header names a member of its control
// queue's struct `class`, a C++ keyword, so it is included here with that
// one word renamed. The headers it includes come first, unrenamed (their
// include guards keep them from being read again inside the rename).
// Include this, never <linux/virtio_net.h> itself.
#ifndef DEVICES_NET_VIRTIO_NET_UAPI_H_
#define DEVICES_NET_VIRTIO_NET_UAPI_H_

#include <linux/if_ether.h>
#include <linux/types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_types.h>

#define class virtio_net_ctrl_class
#include <linux/virtio_net.h>
#undef class

#endif  // DEVICES_NET_VIRTIO_NET_UAPI_H_
