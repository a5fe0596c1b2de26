// store/item_ref.cc -- ItemRef: a reference that pins an item's segment (item.h).
#include "ringcached/store/store.h"
#include "store/item.h"
#include "store/shard.h"

namespace rc::store {

ItemRef& ItemRef::operator=(ItemRef&& other) noexcept {
  if (this != &other) {
    Reset();
    item_ = other.item_;
    other.item_ = nullptr;
  }
  return *this;
}

void ItemRef::Reset() {
  if (item_ != nullptr) {
    internal::ReleaseRef(item_);
    item_ = nullptr;
  }
}

std::string_view ItemRef::key() const { return item_->key(); }

std::string_view ItemRef::value() const { return {item_->value(), item_->value_len()}; }

std::uint32_t ItemRef::flags() const { return item_->client_flags(); }

std::uint64_t ItemRef::cas() const { return item_->cas_hidden() ? 0 : item_->version(); }

std::uint64_t ItemRef::version() const { return item_->version(); }

std::uint64_t ItemRef::ttl_stamp() const { return item_->ttl_stamp(); }

bool ItemRef::fetched() const { return (item_->GetBits() & internal::kFetched) != 0; }

bool ItemRef::stale() const { return (item_->GetBits() & internal::kStale) != 0; }

bool ItemRef::win_token_sent() const {
  return (item_->GetBits() & internal::kWinTokenSent) != 0;
}

bool ItemRef::key_binary() const { return item_->key_binary(); }

void ItemRef::set_key_binary(bool binary) {
  RC_CHECK(!item_->linked());  // only before Put()
  item_->set_key_binary(binary);
}

base::RelTime ItemRef::exptime() const { return item_->exptime(); }

base::RelTime ItemRef::last_access() const {
  return item_->last_access.load(std::memory_order_relaxed);
}

char* ItemRef::writable_value() const { return item_->value(); }

unsigned ItemRef::class_id() const { return internal::ItemClass(item_); }

}  // namespace rc::store
