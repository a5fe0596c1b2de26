// server/item_pin.h -- store items queued for sending: net::OutQueue holds a net::Pin, which
// knows nothing of the store; here an ItemRef's reference becomes one, so a value leaves from
// item memory and the item lives until its bytes are on the wire.
#pragma once

#include <string_view>
#include <utility>

#include "ringcached/net/out_queue.h"
#include "ringcached/store/store.h"

namespace rc::server {

// Queues `bytes`, which lie in `item`'s memory (a binary reply's value), then `suffix`.
inline void QueueItemBytes(net::OutQueue* out, store::ItemRef item, std::string_view bytes,
                           std::string_view suffix = {}) {
  out->AppendPinned(bytes, net::Pin(item.Release(), &store::ItemRef::Unpin), suffix);
}

// Queues the item's value and the "\r\n" after it (text and meta replies).
inline void QueueValue(net::OutQueue* out, store::ItemRef item) {
  std::string_view value = item.value();
  QueueItemBytes(out, std::move(item), value, "\r\n");
}

}  // namespace rc::server
