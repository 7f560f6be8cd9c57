#include <catch2/catch.hpp>

#include "common/object_key.h"
#include "controller/api/condition.h"
#include "controller/api/duration.h"
#include "controller/api/field_path.h"
#include "controller/api/time.h"
#include "controller/api/validation.h"

namespace siteplane::api {

TEST_CASE("parseDuration accepts Go-style durations with days", "[controller][api]") {
  using namespace std::chrono;
  CHECK(*parseDuration("90d") == hours(2160));
  CHECK(*parseDuration("2160h") == hours(2160));
  CHECK(*parseDuration("30m") == minutes(30));
  CHECK(*parseDuration("1h30m") == minutes(90));
  CHECK(*parseDuration("45s") == seconds(45));
  CHECK(*parseDuration("1d12h") == hours(36));
  for (const char* bad : {"", "h", "10", "10x", "1.5h", "-1h", "100ms", "1 h", "99999999999d"}) {
    INFO(bad);
    CHECK_FALSE(parseDuration(bad).isOk());
  }
}

TEST_CASE("formatDuration is the canonical inverse of parseDuration", "[controller][api]") {
  using namespace std::chrono;
  CHECK(formatDuration(hours(2160)) == "2160h");
  CHECK(formatDuration(minutes(90)) == "1h30m");
  CHECK(formatDuration(seconds(45)) == "45s");
  CHECK(formatDuration(seconds(3661)) == "1h1m1s");
  CHECK(formatDuration(seconds(0)) == "0s");
  for (int64_t s : {1, 59, 60, 3600, 86400, 7776000, 12345}) {
    CHECK(*parseDuration(formatDuration(seconds(s))) == seconds(s));
  }
}

TEST_CASE("parseTime reads RFC 3339 and formatTime writes UTC", "[controller][api]") {
  auto time = parseTime("2026-11-25T06:39:51Z");
  REQUIRE(time.isOk());
  CHECK(formatTime(*time) == "2026-11-25T06:39:51Z");
  CHECK(formatTime(*parseTime("2026-11-25T07:39:51.250+01:00")) == "2026-11-25T06:39:51Z");
  CHECK(formatTime(*parseTime("2024-02-29T23:59:59-00:30")) == "2024-03-01T00:29:59Z");
  CHECK(formatTime(Time{}) == "1970-01-01T00:00:00Z");
  for (const char* bad :
       {"", "2026-11-25", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-25T06:39:51",
        "2026-11-25 06:39:51Z", "2026-11-25T06:39:51Zjunk", "2026-11-25T24:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parseTime(bad).isOk());
  }
}

TEST_CASE("setCondition moves lastTransitionTime only when the status flips", "[controller][api]") {
  std::vector<Condition> conditions;
  Time t1 = *parseTime("2026-01-01T00:00:00Z");
  Time t2 = *parseTime("2026-01-01T00:05:00Z");
  Time t3 = *parseTime("2026-01-01T00:10:00Z");
  CHECK(setCondition(conditions, {"Ready", ConditionStatus::kFalse, "Pending", "waiting", {}, 1},
                     t1));
  CHECK(conditions.size() == 1);
  CHECK(conditions[0].lastTransitionTime == t1);

  // Same status and content: nothing changes, so status need not be written.
  CHECK_FALSE(setCondition(conditions,
                           {"Ready", ConditionStatus::kFalse, "Pending", "waiting", {}, 1}, t2));
  // Same status, new message: changed, but the transition time stays.
  CHECK(setCondition(conditions,
                     {"Ready", ConditionStatus::kFalse, "Pending", "still waiting", {}, 2}, t2));
  CHECK(conditions[0].lastTransitionTime == t1);
  CHECK(conditions[0].observedGeneration == 2);
  // Flip: the transition time moves.
  CHECK(setCondition(conditions, {"Ready", ConditionStatus::kTrue, "Ready", "ok", {}, 2}, t3));
  CHECK(conditions[0].lastTransitionTime == t3);
  CHECK(isConditionTrue(conditions, "Ready"));
  CHECK(findCondition(conditions, "Programmed") == nullptr);
  CHECK(removeCondition(conditions, "Ready"));
  CHECK(conditions.empty());
}

TEST_CASE("ObjectKey renders and parses Kind/namespace/name", "[controller][api]") {
  ObjectKey key{"Binding", "default", "contoso-https"};
  CHECK(key.toString() == "Binding/default/contoso-https");
  CHECK(key.namespacedName() == "default/contoso-https");
  CHECK(*ObjectKey::parse("Binding/default/contoso-https") == key);
  CHECK_FALSE(ObjectKey::parse("Binding/default"));
  CHECK_FALSE(ObjectKey::parse("Binding//x"));
  CHECK_FALSE(ObjectKey::parse("a/b/c/d"));
  CHECK(ObjectKeyHash{}(key) == ObjectKeyHash{}(*ObjectKey::parse(key.toString())));
}

TEST_CASE("FieldPath renders paths and JSON pointers", "[controller][api]") {
  auto path = FieldPath("spec.ssl").child("clientCARefs").index(1).child("name");
  CHECK(path.toString() == "spec.ssl.clientCARefs[1].name");
  CHECK(path.toPointer() == "/spec/ssl/clientCARefs/1/name");
  auto label = FieldPath("metadata.labels").key("app.kubernetes.io/name");
  CHECK(label.toString() == "metadata.labels[app.kubernetes.io/name]");
  CHECK(label.toPointer() == "/metadata/labels/app.kubernetes.io~1name");
  CHECK(FieldPath().toPointer().empty());
  CHECK(path.parent().parent().toString() == "spec.ssl.clientCARefs");
}

TEST_CASE("name validators follow DNS and Kubernetes rules", "[controller][api]") {
  CHECK(isDns1123Label("contoso-web1"));
  CHECK_FALSE(isDns1123Label("Contoso"));
  CHECK_FALSE(isDns1123Label("-a"));
  CHECK_FALSE(isDns1123Label(std::string(64, 'a')));
  CHECK(isDnsName("www.contoso.com"));
  CHECK(isDnsName("localhost"));
  CHECK_FALSE(isDnsName("www.contoso.com."));
  CHECK_FALSE(isDnsName("a_b.com"));
  CHECK_FALSE(isDnsName(std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                        std::string(63, 'c') + "." + std::string(63, 'd')));
  CHECK(isWildcardDnsName("*.contoso.com"));
  CHECK_FALSE(isWildcardDnsName("*contoso.com"));
  CHECK(isIPAddress("::ffff:10.0.0.1"));
  CHECK_FALSE(isIPAddress("[::1]"));
  CHECK(isQualifiedName("app.kubernetes.io/name"));
  CHECK_FALSE(isQualifiedName("App.io/name"));
  CHECK(isConditionReason("CertificateNotReady"));
  CHECK_FALSE(isConditionReason("not ready"));
  CHECK(closestMatch("protocl", {"protocol", "port"}) == "protocol");
  CHECK(closestMatch("HOSTNAME", {"hostName"}) == "hostName");
  CHECK_FALSE(closestMatch("colour", {"protocol", "port", "hostName"}).has_value());
}

}  // namespace siteplane::api
