#include "dataplane/table/challenge_answers.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace siteplane::table {
namespace {

TEST_CASE("ChallengeAnswers answers http-01 by host and token, any case and port",
          "[dataplane][table][acme]") {
  ChallengeAnswers answers;
  answers.replace("default/web", {{"WWW.Example.test", "token-1", "token-1.thumb"}}, {});
  CHECK(answers.http01("www.example.test", "token-1") == "token-1.thumb");
  CHECK(answers.http01("WWW.EXAMPLE.TEST:80", "token-1") == "token-1.thumb");
  CHECK(answers.http01("www.example.test.", "token-1") == "token-1.thumb");
  // Another host, or another token, gets nothing: a token is no key to every site.
  CHECK_FALSE(answers.http01("other.example.test", "token-1"));
  CHECK_FALSE(answers.http01("www.example.test", "token-2"));
  CHECK_FALSE(answers.http01("www.example.test", "../token-1"));
}

TEST_CASE("ChallengeAnswers replaces one owner's answers as a whole", "[dataplane][table][acme]") {
  ChallengeAnswers answers;
  answers.replace("default/web", {{"a.test", "t1", "t1.k"}, {"b.test", "t2", "t2.k"}}, {});
  answers.replace("default/web", {{"b.test", "t3", "t3.k"}}, {});
  CHECK_FALSE(answers.http01("a.test", "t1"));
  CHECK_FALSE(answers.http01("b.test", "t2"));
  CHECK(answers.http01("b.test", "t3") == "t3.k");
  answers.removeOwner("default/web");
  CHECK(answers.size() == 0);
}

TEST_CASE("ChallengeAnswers keeps an answer two owners share until both let go",
          "[dataplane][table][acme]") {
  // Two orders of one account may be handed the same authorization (same token and answer).
  ChallengeAnswers answers;
  answers.replace("default/one", {{"a.test", "shared", "shared.k"}}, {});
  answers.replace("default/two", {{"a.test", "shared", "shared.k"}}, {});
  answers.removeOwner("default/one");
  CHECK(answers.http01("a.test", "shared") == "shared.k");
  answers.removeOwner("default/two");
  CHECK_FALSE(answers.http01("a.test", "shared"));
}

TEST_CASE("ChallengeAnswers holds a bounded number of answers per owner",
          "[dataplane][table][acme]") {
  ChallengeAnswers answers;
  std::vector<Http01Answer> many;
  for (size_t i = 0; i < ChallengeAnswers::kMaxAnswersPerOwner + 50; ++i)
    many.push_back({"a.test", "t" + std::to_string(i), "k"});
  answers.replace("default/web", many, {});
  CHECK(answers.size() == ChallengeAnswers::kMaxAnswersPerOwner);
}

}  // namespace
}  // namespace siteplane::table
