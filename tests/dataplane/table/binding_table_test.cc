#include "dataplane/table/binding_table.h"

#include <catch2/catch.hpp>

namespace siteplane::table {
namespace {

std::shared_ptr<const SitePolicy> site(const std::string& name) {
  auto policy = std::make_shared<SitePolicy>();
  policy->name = name;
  return policy;
}

BindingTable::Entry http(const std::string& address, uint16_t port, const std::string& host,
                         const std::string& binding) {
  return {{address, port},
          Protocol::kHttp,
          Route{binding, 1, host, site("default/" + binding), nullptr}};
}

}  // namespace

TEST_CASE("BindingTable prefers an exact host over a wildcard over the default",
          "[dataplane][table]") {
  BindingTable::Builder builder(7);
  REQUIRE(builder.add(http("*", 80, "www.contoso.com", "exact")).isOk());
  REQUIRE(builder.add(http("*", 80, "*.contoso.com", "wild")).isOk());
  REQUIRE(builder.add(http("*", 80, "", "default")).isOk());
  auto table = std::move(builder).build();

  CHECK(table->generation() == 7);
  CHECK(table->bindingCount() == 3);
  CHECK(table->route("127.0.0.1", 80, "www.contoso.com")->binding == "exact");
  CHECK(table->route("127.0.0.1", 80, "WWW.Contoso.COM.")->binding == "exact");
  CHECK(table->route("127.0.0.1", 80, "shop.contoso.com")->binding == "wild");
  CHECK(table->route("127.0.0.1", 80, "a.b.contoso.com")->binding == "default");  // one label only
  CHECK(table->route("127.0.0.1", 80, "contoso.com")->binding == "default");
  CHECK(table->route("127.0.0.1", 80, "")->binding == "default");
  CHECK(table->route("127.0.0.1", 81, "www.contoso.com") == nullptr);
}

TEST_CASE("BindingTable prefers an exact IP listener and falls back to *", "[dataplane][table]") {
  BindingTable::Builder builder(1);
  REQUIRE(builder.add(http("127.0.0.1", 8080, "a.test", "ip-a")).isOk());
  REQUIRE(builder.add(http("*", 8080, "a.test", "any-a")).isOk());
  REQUIRE(builder.add(http("*", 8080, "b.test", "any-b")).isOk());
  auto table = std::move(builder).build();

  CHECK(table->route("127.0.0.1", 8080, "a.test")->binding == "ip-a");
  CHECK(table->route("127.0.0.2", 8080, "a.test")->binding == "any-a");
  CHECK(table->route("127.0.0.1", 8080, "b.test")->binding == "any-b");
  CHECK(table->route("127.0.0.1", 8080, "c.test") == nullptr);
  CHECK(table->listenerFor("127.0.0.1", 8080)->key().address == "127.0.0.1");
  CHECK(table->listenerFor("::1", 8080)->key().address == "*");
}

TEST_CASE("BindingTable refuses bindings that cannot be served together", "[dataplane][table]") {
  BindingTable::Builder builder(1);
  REQUIRE(builder.add(http("*", 80, "a.test", "first")).isOk());

  auto duplicate = builder.add(http("*", 80, "A.test", "second"));
  REQUIRE_FALSE(duplicate.isOk());
  CHECK(duplicate.message() == "binding second: host 'a.test' on *:80 is already bound by first");

  auto https = http("*", 80, "b.test", "third");
  https.protocol = Protocol::kHttps;
  auto noTls = builder.add(https);
  REQUIRE_FALSE(noTls.isOk());
  CHECK(noTls.message() == "binding third: https needs a TLS context");

  auto mixed = http("::1", 443, "", "fourth");
  REQUIRE(builder.add(mixed).isOk());
  auto again = http("::1", 443, "c.test", "fifth");
  again.protocol = Protocol::kHttps;
  again.route.tls = nullptr;
  CHECK_FALSE(builder.add(again).isOk());
}
}  // namespace siteplane::table
