#include "imds/token_cache.hpp"

#include "support/catch_result.hpp"

using namespace std::chrono_literals;

TEST_CASE("token cache: a token is served until the refresh margin before expiry", "[imds]") {
  kn::ManualClock clock;
  kn::imds::TokenCache cache(clock, 60s);
  CHECK_FALSE(cache.current());
  cache.store("tok", 300s);
  REQUIRE(cache.current());
  CHECK(*cache.current() == "tok");
  clock.advance(239s);
  CHECK(cache.current());
  clock.advance(1s);  // 60 s left: refresh now rather than race the expiry
  CHECK_FALSE(cache.current());
}

TEST_CASE("token cache: invalidate drops the token (after a 401)", "[imds]") {
  kn::ManualClock clock;
  kn::imds::TokenCache cache(clock, 0s);
  cache.store("tok", 10s);
  cache.invalidate();
  CHECK_FALSE(cache.current());
}

TEST_CASE("token cache: a zero margin serves the token up to its expiry", "[imds]") {
  kn::ManualClock clock;
  kn::imds::TokenCache cache(clock, 0s);
  cache.store("tok", 1s);
  clock.advance(999ms);
  CHECK(cache.current());
  clock.advance(1ms);
  CHECK_FALSE(cache.current());
}
