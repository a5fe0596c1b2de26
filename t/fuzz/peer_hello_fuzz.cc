// t/fuzz/peer_hello_fuzz.cc -- libFuzzer target for the peer handshake's parser
// (cluster/peer_hello.h), which reads what another machine sent before it has proved anything.
//
// The input is the fields of an rc_hello or RC_HELLO line. Whatever it is, parsing must not crash
// or read past it; a hello it accepts must encode and parse back to itself, agree with itself on
// configuration, and check a proof of any shape without trusting it.
// Build with ./configure --enable-fuzz CXX=clang++; run with `make fuzz-peer` (t/fuzz/local.am).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "ringcached/base/check.h"
#include "ringcached/cluster/peer_hello.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exact-size copy, so a read past the input is an AddressSanitizer report.
  std::unique_ptr<char[]> copy(new char[size == 0 ? 1 : size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  const std::string_view fields(copy.get(), size);
  std::string proof;
  rc::base::Result<rc::cluster::PeerHello> hello = rc::cluster::ParseHelloFields(fields, &proof);
  if (!hello.ok()) return 0;
  const rc::cluster::PeerHello& h = hello.value();
  const std::string line = rc::cluster::EncodeHello(h);
  RC_CHECK(line.size() > 11 && line.compare(line.size() - 2, 2, "\r\n") == 0);
  std::string again_proof;
  rc::base::Result<rc::cluster::PeerHello> again = rc::cluster::ParseHelloFields(
      std::string_view(line).substr(9, line.size() - 11), &again_proof);
  RC_CHECK(again.ok() && again.value() == h && again_proof.empty());
  RC_CHECK(rc::cluster::ConfigMismatch(h, h).empty());
  // A proof the sender could not have made without the secret is refused.
  RC_CHECK(proof.empty() ||
           !rc::cluster::CheckPeerProof({"not the secret of whoever made this"},
                                        rc::cluster::PeerRole::kAcceptor, h, h, proof) ||
           proof == rc::cluster::PeerProof("not the secret of whoever made this",
                                           rc::cluster::PeerRole::kAcceptor, h, h));
  return 0;
}
