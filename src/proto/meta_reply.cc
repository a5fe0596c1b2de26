// proto/meta_reply.cc -- meta reply lines: the status code, then the return flags in the order
// the request gave them, as proto_text.c writes them (process_mget_command's flag loop,
// _finalize_mset, process_mdelete_command, process_marithmetic_command).
//
// Which flags produce output depends on the command and on whether an item was found:
//   mg hit (HD/VA)  s t c f l h O k, then Z, X, W (in that order, after every flag)
//   mg miss (EN)    O k
//   ms (any)        O k c  (c is the new CAS, or 0 when nothing was stored)
//   md (any)        O k
//   ma hit (HD/VA)  c t O k, and with v the counter on its own line
//   ma other        O k
// `k` prints the key, base64-encoded and followed by " b" when the key is binary.
#include <charconv>
#include <cstring>

#include "ringcached/proto/meta.h"

namespace rc::proto {
namespace {

inline char* Put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

inline char* PutFlag(char* p, char c) {
  p[0] = ' ';
  p[1] = c;
  return p + 2;
}

template <typename T>
inline char* PutNumber(char* p, T v) {
  return std::to_chars(p, p + 20, v).ptr;
}

char* PutKey(char* p, std::string_view key, bool binary) {
  p = PutFlag(p, 'k');
  if (!binary) return Put(p, key);
  p += Base64Encode(key.data(), key.size(), p);
  return Put(p, " b");
}

bool IsHit(MetaStatus s) { return s == MetaStatus::kHD || s == MetaStatus::kVA; }

}  // namespace

std::size_t FormatMetaReply(char* buf, const MetaRequest& req, const MetaReplyInfo& info) {
  char* p = buf;
  switch (info.status) {
    case MetaStatus::kHD: p = Put(p, "HD"); break;
    case MetaStatus::kVA:
      p = Put(p, "VA ");
      if (req.command == MetaCommand::kArithmetic) {
        // ma's value is the counter's decimal text, sent after the line.
        char digits[20];
        p = PutNumber(p, PutNumber(digits, info.number) - digits);
      } else {
        p = PutNumber(p, info.value_len);
      }
      break;
    case MetaStatus::kEN: p = Put(p, "EN"); break;
    case MetaStatus::kNF: p = Put(p, "NF"); break;
    case MetaStatus::kNS: p = Put(p, "NS"); break;
    case MetaStatus::kEX: p = Put(p, "EX"); break;
  }

  const bool hit = IsHit(info.status);
  const bool get_hit = req.command == MetaCommand::kGet && hit;
  const bool arith_hit = req.command == MetaCommand::kArithmetic && hit;
  for (std::size_t i = 0; i < req.nflags; ++i) {
    switch (req.flags[i]) {
      case 'O':
        p = PutFlag(p, 'O');
        p = Put(p, req.opaque());
        break;
      case 'k':
        p = PutKey(p, info.key, info.key_binary);
        break;
      case 'c':
        if (get_hit || arith_hit || req.command == MetaCommand::kSet) {
          p = PutFlag(p, 'c');
          p = PutNumber(p, info.cas);
        }
        break;
      case 't':
        if (get_hit || arith_hit) {
          p = PutFlag(p, 't');
          p = PutNumber(p, info.ttl);
        }
        break;
      case 's':
        if (get_hit) {
          p = PutFlag(p, 's');
          p = PutNumber(p, info.value_len);
        }
        break;
      case 'f':
        if (get_hit) {
          p = PutFlag(p, 'f');
          p = PutNumber(p, info.client_flags);
        }
        break;
      case 'l':
        if (get_hit) {
          p = PutFlag(p, 'l');
          p = PutNumber(p, info.idle);
        }
        break;
      case 'h':
        if (get_hit) {
          p = PutFlag(p, 'h');
          *p++ = info.fetched ? '1' : '0';
        }
        break;
      default:
        break;
    }
  }
  if (get_hit) {
    // Z before W, so a client never sees both (proto_text.c: "so we don't send W with Z").
    if (info.win_sent) p = PutFlag(p, 'Z');
    if (info.stale) p = PutFlag(p, 'X');
    if (info.win) p = PutFlag(p, 'W');
  }
  p = Put(p, "\r\n");
  if (arith_hit && info.status == MetaStatus::kVA) {
    p = PutNumber(p, info.number);
    p = Put(p, "\r\n");
  }
  return static_cast<std::size_t>(p - buf);
}

bool MetaReplySuppressed(const MetaRequest& req, const MetaReplyInfo& info) {
  if (!req.quiet()) return false;
  switch (req.command) {
    case MetaCommand::kGet:
      return info.status == MetaStatus::kEN;
    case MetaCommand::kSet:
    case MetaCommand::kDelete:
      return info.status == MetaStatus::kHD;
    case MetaCommand::kArithmetic:
      // process_marithmetic_command skips the reply on a successful delta only, not when it
      // created the item.
      return IsHit(info.status) && !info.created;
    default:
      return false;
  }
}

std::size_t FormatMetaDebug(char* buf, const MetaDebugInfo& info) {
  char* p = Put(buf, "ME ");
  if (info.key_binary) {
    p += Base64Encode(info.key.data(), info.key.size(), p);
  } else {
    p = Put(p, info.key);
  }
  p = Put(p, " exp=");
  p = PutNumber(p, info.exp);
  p = Put(p, " la=");
  p = PutNumber(p, info.la);
  p = Put(p, " cas=");
  p = PutNumber(p, info.cas);
  p = Put(p, info.fetched ? " fetch=yes cls=" : " fetch=no cls=");
  p = PutNumber(p, info.cls);
  p = Put(p, " size=");
  p = PutNumber(p, info.size);
  return static_cast<std::size_t>(Put(p, "\r\n") - buf);
}

}  // namespace rc::proto
