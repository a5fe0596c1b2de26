// t/unit/server/session_test.cc -- server::Session fed plain byte strings, no sockets: the text,
// meta and binary protocols, every split of a request stream into two fragments and one byte at
// a time, data blocks straight into the item, -R yields, quit, writes whose replies a WriteGate
// holds (as synchronous replication does), and operations a Forwarder sends to the key's owner
// (the meta commands sent, and the owner's answers told in each protocol).
//
// The session runs against a real Server opened with no listener (port 0: its store, engine and
// workers exist; nothing listens, no thread starts), on its first worker, as a connection would.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "ringcached/net/input_buffer.h"
#include "ringcached/net/out_queue.h"
#include "server/server.h"
#include "server/session.h"
#include "server/worker.h"

namespace rc::server {
namespace {

class RecordingHost : public SessionHost {
 public:
  void OnDataBlock(std::size_t bytes) override { data_blocks.push_back(bytes); }
  void Resume() override { ++resumes; }
  void SendQueued() override { ++sends; }
  std::vector<std::size_t> data_blocks;
  int resumes = 0;
  int sends = 0;
};

// A gate that holds every request that wrote (the engine reported a change) until the test
// releases it, as synchronous replication holds a write until the replicas acknowledge it.
class HoldingGate : public WriteGate, public engine::WriteObserver {
 public:
  void OnWrite(const engine::WriteEvent&) override { ++writes_; }
  bool Holding() override { return writes_ > 0; }
  bool Hold(Release release) override {
    if (writes_ == 0) return false;
    writes_ = 0;
    held.push_back(std::move(release));
    return true;
  }
  // Releases the oldest held request (as the loop would, later): acknowledged, or given up on.
  void ReleaseOne(bool acknowledged = true) {
    ASSERT_FALSE(held.empty());
    const Release r = std::move(held.front());
    held.erase(held.begin());
    r(acknowledged);
  }
  std::vector<Release> held;

 private:
  int writes_ = 0;
};

class SessionTest : public ::testing::Test {
 protected:
  void Open(int reqs_per_event = 20) {
    Settings s;
    s.port = 0;  // no listener
    s.maxbytes = 16u << 20;
    s.num_threads = 1;
    s.reqs_per_event = reqs_per_event;
    server_ = std::make_unique<Server>(s);
    base::Status st = server_->Open();
    ASSERT_TRUE(st.ok()) << st.message();
    NewSession();
  }
  void SetUp() override { Open(); }

  void NewSession() {
    session_.reset();
    Worker* w = server_->workers().front().get();
    in_ = std::make_unique<net::InputBuffer>(&w->buffers(), 1u << 20);
    out_ = std::make_unique<net::OutQueue>(&w->buffers());
    session_ = std::make_unique<Session>(w->session_context(), &host_, in_.get(), out_.get(),
                                         &record_, false);
  }

  // Feeds `bytes` as a transport would: a data block's bytes straight into the item while the
  // input buffer is empty, the rest into the input buffer; then runs the session until it has
  // nothing left it can do. Returns false if the session asked to close (at once, or once what
  // it queued is sent).
  bool Feed(std::string_view bytes) {
    while (!bytes.empty()) {
      if (std::size_t left = session_->DataBlockLeft(); left > 0) {
        std::size_t k = std::min(left, bytes.size());
        session_->FillDataBlock(bytes.data(), k);
        bytes.remove_prefix(k);
      } else {
        EXPECT_TRUE(in_->Reserve());
        std::size_t k = std::min(in_->room(), bytes.size());
        std::memcpy(in_->tail(), bytes.data(), k);
        in_->Commit(k);
        bytes.remove_prefix(k);
      }
      if (!Run()) return false;
    }
    return Run();
  }
  bool Run() {
    do {
      session_->ClearYield();
      if (!session_->Process() || session_->close_after_write()) return false;
    } while (session_->yielded());
    return true;
  }
  std::string Replies() {
    std::string out;
    out_->MoveTo(&out);
    return out;
  }

  RecordingHost host_;
  ConnRecord record_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<net::InputBuffer> in_;
  std::unique_ptr<net::OutQueue> out_;
  std::unique_ptr<Session> session_;
};

class HeldWriteTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    server_->engine().add_write_observer(&gate_);
    server_->workers().front()->session_context()->write_gate = &gate_;
  }
  // Releases the oldest held write and runs what waited behind it, as the host's Resume() does.
  void Release(bool acknowledged = true) {
    const int resumes = host_.resumes;
    gate_.ReleaseOne(acknowledged);
    EXPECT_EQ(host_.resumes, resumes + 1);
    ASSERT_TRUE(Run());
  }
  HoldingGate gate_;
};

// A held write's reply waits, and everything after it waits behind it: replies stay in order.
TEST_F(HeldWriteTest, AWriteReplyWaitsForTheGateAndWhatFollowsWaitsBehindIt) {
  ASSERT_TRUE(Feed("get a\r\nset a 0 0 1\r\nx\r\nget a\r\ndelete a\r\nget a\r\n"));
  // The get before the set is answered; the set's reply is held, and nothing after it ran.
  EXPECT_EQ(Replies(), "END\r\n");
  EXPECT_TRUE(session_->waiting());
  ASSERT_EQ(gate_.held.size(), 1u);
  Release();
  // The set's reply, then the get behind it; the delete is held in turn.
  EXPECT_EQ(Replies(), "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
  ASSERT_EQ(gate_.held.size(), 1u);
  Release();
  EXPECT_EQ(Replies(), "DELETED\r\nEND\r\n");
  EXPECT_FALSE(session_->waiting());
}

TEST_F(HeldWriteTest, ReadsAndRefusedWritesAreNotHeld) {
  ASSERT_TRUE(Feed("get a\r\nadd a 0 0 1\r\nx\r\n"));
  ASSERT_EQ(gate_.held.size(), 1u);  // the add stored: held
  Release();
  ASSERT_TRUE(Feed("add a 0 0 1\r\ny\r\nget a\r\nincr nope 1\r\n"));
  // A NOT_STORED add changed nothing and an incr miss neither: the gate let them through.
  EXPECT_TRUE(gate_.held.empty());
  EXPECT_EQ(Replies(), "END\r\nSTORED\r\nNOT_STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nNOT_FOUND\r\n");
}

TEST_F(HeldWriteTest, MetaAndBinaryWritesAreHeldToo) {
  ASSERT_TRUE(Feed("ms k 1\r\nx\r\nmn\r\n"));
  EXPECT_EQ(Replies(), "");
  Release();
  EXPECT_EQ(Replies(), "HD\r\nMN\r\n");
  // A quiet md has no reply, but what follows still waits for it.
  ASSERT_TRUE(Feed("md k q\r\nmg k v\r\n"));
  EXPECT_EQ(Replies(), "");
  Release();
  EXPECT_EQ(Replies(), "EN\r\n");

  NewSession();
  // A binary Set of "b" = "v", then a Noop.
  std::string set = {'\x80', '\x01', '\x00', '\x01', 8, 0, 0, 0, 0, 0, 0, 10,
                     0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0,
                     0, 0, 0, 0, 0, 0, 0, 0, 'b', 'v'};
  std::string noop = {'\x80', '\x0a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                      0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(Feed(set + noop));
  EXPECT_EQ(Replies(), "");
  Release();
  const std::string reply = Replies();
  ASSERT_EQ(reply.size(), 48u);  // the Set's and the Noop's headers, in that order
  EXPECT_EQ(reply[1], '\x01');
  EXPECT_EQ(reply[15], '\x07');
  EXPECT_EQ(reply[24 + 1], '\x0a');
}

// A write the gate gave up on is answered SERVER_ERROR (the outcome is unknown), never STORED;
// quiet meta and binary writes say so too; a text noreply write cannot.
TEST_F(HeldWriteTest, AWriteTheGateGaveUpOnIsAnsweredWithAnError) {
  ASSERT_TRUE(Feed("set a 0 0 1\r\nx\r\nget a\r\n"));
  Release(false);
  EXPECT_EQ(Replies(),
            "SERVER_ERROR replication to the key's holders did not complete\r\n"
            "VALUE a 0 1\r\nx\r\nEND\r\n");
  ASSERT_TRUE(Feed("ms b 1 q\r\ny\r\nmn\r\n"));
  Release(false);
  EXPECT_EQ(Replies(),
            "SERVER_ERROR replication to the key's holders did not complete\r\nMN\r\n");
  ASSERT_TRUE(Feed("set c 0 0 1 noreply\r\nz\r\nmn\r\n"));
  Release(false);
  EXPECT_EQ(Replies(), "MN\r\n");

  NewSession();
  // A binary SetQ (quiet) of "q" = "v", opaque 0x0a0b0c0d.
  std::string setq = {'\x80', '\x11', '\x00', '\x01', 8, 0, 0, 0, 0, 0, 0, 10,
                      '\x0a', '\x0b', '\x0c', '\x0d', 0, 0, 0, 0, 0, 0, 0, 0,
                      0, 0, 0, 0, 0, 0, 0, 0, 'q', 'v'};
  ASSERT_TRUE(Feed(setq));
  Release(false);
  const std::string reply = Replies();
  ASSERT_EQ(reply.size(), 24u + 14u);  // "Internal error"
  EXPECT_EQ(static_cast<unsigned char>(reply[0]), 0x81u);
  EXPECT_EQ(reply[1], '\x11');
  EXPECT_EQ(reply.substr(6, 2), std::string("\x00\x84", 2));
  EXPECT_EQ(reply.substr(12, 4), "\x0a\x0b\x0c\x0d");
  EXPECT_EQ(reply.substr(24), "Internal error");
}

TEST_F(HeldWriteTest, ARequestClosedWhileHeldIsNeverAnswered) {
  ASSERT_TRUE(Feed("set a 0 0 1\r\nx\r\n"));
  ASSERT_EQ(gate_.held.size(), 1u);
  session_->Closed();
  const int resumes = host_.resumes;
  gate_.ReleaseOne();  // the release comes after the close: nothing happens
  EXPECT_EQ(host_.resumes, resumes);
  EXPECT_EQ(Replies(), "");
}

// A forwarder that sends nothing: it records each request it is given for the key's owner and
// lets the test answer it (forwarder.h). Keys starting with "away" are not this node's.
class RecordingForwarder : public Forwarder {
 public:
  Route Forward(std::string_view key, const std::function<std::string()>& request,
                AnswerFn answer) override {
    if (key.substr(0, 4) != "away") return Route::kHere;
    if (full) return Route::kFailed;
    requests.push_back(request());
    answers.push_back(std::move(answer));
    return Route::kSent;
  }
  // Answers the oldest request with the owner's reply, or as lost (null).
  void Answer(const std::string* reply) {
    ASSERT_FALSE(answers.empty());
    AnswerFn a = std::move(answers.front());
    answers.erase(answers.begin());
    a(reply);
  }
  std::vector<std::string> requests;
  std::vector<AnswerFn> answers;
  bool full = false;
};

class ForwardedTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    server_->workers().front()->session_context()->forwarder = &forwarder_;
  }
  void Answer(const std::string& reply) {
    forwarder_.Answer(&reply);
    ASSERT_TRUE(Run());
  }
  void Lose() {
    forwarder_.Answer(nullptr);
    ASSERT_TRUE(Run());
  }
  RecordingForwarder forwarder_;
};

TEST_F(ForwardedTest, TextOperationsGoToTheOwnerAndWhatFollowsWaits) {
  ASSERT_TRUE(Feed("add away1 5 100 2\r\nxy\r\nget here\r\nset here 0 0 1\r\nh\r\n"));
  ASSERT_EQ(forwarder_.requests.size(), 1u);
  EXPECT_EQ(forwarder_.requests[0], "ms away1 2 ME F5 T100\r\nxy\r\n");
  EXPECT_EQ(Replies(), "");  // the get behind it waits
  Answer("NS\r\n");
  EXPECT_EQ(Replies(), "NOT_STORED\r\nEND\r\nSTORED\r\n");
  ASSERT_TRUE(Feed("incr away2 7\r\ndecr away2 1 noreply\r\ncas away3 0 0 1 42\r\nc\r\n"
                   "append away4 0 0 1\r\na\r\nincr here 1\r\n"));
  EXPECT_EQ(forwarder_.requests.back(), "ma away2 MI D7 v\r\n");
  Answer("VA 2\r\n17\r\n");
  EXPECT_EQ(forwarder_.requests.back(), "ma away2 MD D1 v\r\n");
  Answer("VA 2\r\n16\r\n");  // noreply: not told
  EXPECT_EQ(forwarder_.requests.back(), "ms away3 1 C42 F0\r\nc\r\n");
  Answer("EX\r\n");
  EXPECT_EQ(forwarder_.requests.back(), "ms away4 1 MA\r\na\r\n");
  Answer("CLIENT_ERROR bad data chunk\r\n");  // an error line goes to the client as it is
  EXPECT_EQ(Replies(), "17\r\nEXISTS\r\nCLIENT_ERROR bad data chunk\r\n"
                       "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  EXPECT_EQ(forwarder_.requests.size(), 5u);
  // Lost on the way: the outcome is unknown. Not forwarded at all: the same.
  ASSERT_TRUE(Feed("incr away5 1\r\n"));
  Lose();
  forwarder_.full = true;
  ASSERT_TRUE(Feed("add away6 0 0 1\r\nz\r\nadd away7 0 0 1 noreply\r\nz\r\nmn\r\n"));
  EXPECT_EQ(Replies(), "SERVER_ERROR the key's owner did not answer\r\n"
                       "SERVER_ERROR the key's owner did not answer\r\nMN\r\n");
}

TEST_F(ForwardedTest, MetaGoesAsTheClientSentItAndTheOwnersReplyComesBackAsItIs) {
  ASSERT_TRUE(Feed("ma away1 D3 v O9 q\r\nms away2 1 ME k c\r\nz\r\nms away3 1\r\nz\r\nmn\r\n"));
  EXPECT_EQ(forwarder_.requests.back(), "ma away1 D3 v O9 q\r\n");
  Answer("");  // q: the owner said nothing
  EXPECT_EQ(forwarder_.requests.back(), "ms away2 1 ME k c\r\nz\r\n");
  Answer("HD kaway2 c77\r\n");
  // A plain ms is not forwarded (its state is replicated): answered here.
  EXPECT_EQ(Replies(), "HD kaway2 c77\r\nHD\r\nMN\r\n");
  EXPECT_EQ(forwarder_.requests.size(), 2u);
}

TEST_F(ForwardedTest, BinaryRepliesAreMadeFromTheOwnersAnswer) {
  // Increment "away" by 5, initial 0, exptime 0 (created on a miss), opaque 0x01020304.
  std::string incr = {'\x80', '\x05', 0, 4, 20, 0, 0, 0, 0, 0, 0, 24,
                      1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0,
                      0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                      'a', 'w', 'a', 'y'};
  ASSERT_TRUE(Feed(incr));
  EXPECT_EQ(forwarder_.requests.back(), "ma away MI D5 J0 N0 v c\r\n");
  Answer("VA 2 c9\r\n15\r\n");
  std::string reply = Replies();
  ASSERT_EQ(reply.size(), 24u + 8u);
  EXPECT_EQ(reply.substr(6, 2), std::string("\x00\x00", 2));          // success
  EXPECT_EQ(reply.substr(12, 4), "\x01\x02\x03\x04");               // its opaque
  EXPECT_EQ(reply.substr(16, 8), std::string("\0\0\0\0\0\0\0\x09", 8));  // the owner's CAS
  EXPECT_EQ(reply.substr(24), std::string("\0\0\0\0\0\0\0\x0f", 8));    // 15
  // Add "away" = "v": the owner has it, so the key exists.
  std::string add = {'\x80', '\x02', 0, 4, 8, 0, 0, 0, 0, 0, 0, 13,
                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                     0, 0, 0, 0, 0, 0, 0, 0, 'a', 'w', 'a', 'y', 'v'};
  ASSERT_TRUE(Feed(add));
  EXPECT_EQ(forwarder_.requests.back(), "ms away 1 ME F0 c\r\nv\r\n");
  Answer("NS\r\n");
  reply = Replies();
  ASSERT_GE(reply.size(), 24u);
  EXPECT_EQ(reply.substr(6, 2), std::string("\x00\x02", 2));  // key exists
  // Lost: Internal error.
  ASSERT_TRUE(Feed(add));
  Lose();
  reply = Replies();
  EXPECT_EQ(reply.substr(6, 2), std::string("\x00\x84", 2));
}

TEST_F(SessionTest, TextSetGetDelete) {
  ASSERT_TRUE(Feed("set k 5 0 5\r\nhello\r\nget k\r\ngets nothere\r\ndelete k\r\n"));
  EXPECT_EQ(Replies(), "STORED\r\nVALUE k 5 5\r\nhello\r\nEND\r\nEND\r\nDELETED\r\n");
  ASSERT_TRUE(Feed("get k\r\nbogus\r\n"));
  EXPECT_EQ(Replies(), "END\r\nERROR\r\n");
}

TEST_F(SessionTest, MetaCommands) {
  ASSERT_TRUE(Feed("ms mk 2 T0\r\nhi\r\nmg mk v f\r\nmn\r\n"));
  EXPECT_EQ(Replies(), "HD\r\nVA 2 f0\r\nhi\r\nMN\r\n");
}

TEST_F(SessionTest, BinaryGetMiss) {
  // A binary get of "k" (opaque 0x01020304): the first byte 0x80 chooses the binary protocol.
  std::string req = {'\x80', '\x00', '\x00', '\x01', 0, 0, 0, 0, 0, 0, 0, 1,
                     '\x01', '\x02', '\x03', '\x04', 0, 0, 0, 0, 0, 0, 0, 0, 'k'};
  ASSERT_TRUE(Feed(req));
  std::string reply = Replies();
  ASSERT_EQ(reply.size(), 24u + 9u);  // header + "Not found"
  EXPECT_EQ(static_cast<unsigned char>(reply[0]), 0x81u);
  EXPECT_EQ(reply[7], '\x01');  // status 1: key not found
  EXPECT_EQ(reply.substr(12, 4), "\x01\x02\x03\x04");
  EXPECT_EQ(reply.substr(24), "Not found");
}

// The same stream, whole, in every split into two fragments, and one byte at a time: the
// replies never change. The stream leaves the store as it found it, so it can run again.
TEST_F(SessionTest, EveryFragmentation) {
  const std::string stream =
      "set a 1 0 3\r\nabc\r\nget a b\r\nms b 2\r\nxy\r\nmg b v\r\nincr n 1\r\n"
      "delete a\r\nmd b q\r\nmn\r\n";
  const std::string replies =
      "STORED\r\nVALUE a 1 3\r\nabc\r\nEND\r\nHD\r\nVA 2\r\nxy\r\nNOT_FOUND\r\nDELETED\r\nMN\r\n";
  ASSERT_TRUE(Feed(stream));
  ASSERT_EQ(Replies(), replies);
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    ASSERT_TRUE(Feed(stream.substr(0, cut)));
    ASSERT_TRUE(Feed(stream.substr(cut)));
    ASSERT_EQ(Replies(), replies) << "split at " << cut;
  }
  for (char c : stream) ASSERT_TRUE(Feed(std::string_view(&c, 1)));
  EXPECT_EQ(Replies(), replies) << "one byte at a time";
}

TEST_F(SessionTest, LargeValueGoesStraightIntoTheItem) {
  std::string value(100000, 'v');
  ASSERT_TRUE(Feed("set big 0 0 100000\r\n"));
  ASSERT_EQ(host_.data_blocks.size(), 1u);
  EXPECT_EQ(host_.data_blocks[0], 100002u);  // value and "\r\n"
  EXPECT_TRUE(session_->in_data_block());
  EXPECT_EQ(session_->DirectValueRoom(), 100000u);
  // A transport reading the socket straight into the item.
  std::memcpy(session_->direct_value(), value.data(), 60000);
  session_->ValueReceived(60000);
  EXPECT_EQ(session_->DirectValueRoom(), 40000u);
  ASSERT_TRUE(Feed(value.substr(60000) + "\r\nget big\r\n"));
  EXPECT_FALSE(session_->in_data_block());
  EXPECT_EQ(Replies(), "STORED\r\nVALUE big 0 100000\r\n" + value + "\r\nEND\r\n");
}

TEST_F(SessionTest, BadDataBlockEnd) {
  ASSERT_TRUE(Feed("set k 0 0 2\r\nabcd\r\nget k\r\n"));
  EXPECT_EQ(Replies(), "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n");
}

TEST_F(SessionTest, YieldsAfterReqsPerEvent) {
  Open(/*reqs_per_event=*/2);
  std::string five;
  for (int i = 0; i < 5; ++i) five += "mn\r\n";
  EXPECT_TRUE(in_->Reserve());
  std::memcpy(in_->tail(), five.data(), five.size());
  in_->Commit(five.size());
  ASSERT_TRUE(session_->Process());
  EXPECT_TRUE(session_->yielded());
  EXPECT_EQ(Replies(), "MN\r\nMN\r\n");
  ASSERT_TRUE(Run());
  EXPECT_EQ(Replies(), "MN\r\nMN\r\nMN\r\n");
  EXPECT_TRUE(in_->empty());
  EXPECT_TRUE(session_->input_releasable());
}

TEST_F(SessionTest, QuitClosesAfterWhatCameBefore) {
  EXPECT_FALSE(Feed("mn\r\nquit\r\nmn\r\n"));
  EXPECT_TRUE(session_->close_after_write());
  // Called again (its replies were blocked, say): nothing after the quit runs.
  EXPECT_TRUE(session_->Process());
  EXPECT_EQ(Replies(), "MN\r\n");
}

TEST_F(SessionTest, RecordsState) {
  ASSERT_TRUE(Feed("set k 0 0 4\r\nab"));
  EXPECT_STREQ(record_.state.load(), "conn_nread");
  ASSERT_TRUE(Feed("cd\r\n"));
  EXPECT_STREQ(record_.state.load(), "conn_parse_cmd");
  EXPECT_EQ(Replies(), "STORED\r\n");
}

}  // namespace
}  // namespace rc::server
