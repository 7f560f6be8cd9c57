#include "controller/store/event_dispatcher.h"

#include <exception>

#include "common/logging.h"

namespace siteplane::store {

const char* toString(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
  }
  return "MODIFIED";
}

Subscription::Subscription(Subscription&& other) noexcept
    : dispatcher_(std::move(other.dispatcher_)), id_(other.id_) {
  other.id_ = 0;
}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    cancel();
    dispatcher_ = std::move(other.dispatcher_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void Subscription::cancel() {
  if (id_ == 0) return;
  if (auto dispatcher = dispatcher_.lock()) dispatcher->removeSubscriber(id_);
  dispatcher_.reset();
  id_ = 0;
}

void EventDispatcher::enqueue(WatchEvent event) {
  std::lock_guard lock(mutex_);
  // With no subscriber nobody can want the event: history (in the store) serves late watchers.
  if (subscribers_.empty()) return;
  pending_.push_back(std::move(event));
}

uint64_t EventDispatcher::addSubscriber(WatchCallback callback, std::vector<WatchEvent> backlog,
                                        uint64_t cursor) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->callback = std::move(callback);
  subscriber->backlog.assign(std::make_move_iterator(backlog.begin()),
                             std::make_move_iterator(backlog.end()));
  subscriber->cursor = cursor;
  std::lock_guard lock(mutex_);
  subscriber->id = nextId_++;
  subscribers_.push_back(subscriber);
  return subscriber->id;
}

void EventDispatcher::removeSubscriber(uint64_t id) {
  {
    std::lock_guard lock(mutex_);
    for (auto it = subscribers_.begin(); it != subscribers_.end(); ++it) {
      if ((*it)->id == id) {
        (*it)->active = false;
        subscribers_.erase(it);
        break;
      }
    }
  }
  // Wait for a callback in flight on another thread, so that the caller may destroy what the
  // callback uses once this returns. On the delivering thread itself that callback is our caller.
  if (deliveringThread_.load() != std::this_thread::get_id()) {
    std::lock_guard wait(deliveryMutex_);
  }
}

void EventDispatcher::deliver() {
  if (deliveringThread_.load() == std::this_thread::get_id()) return;
  std::lock_guard delivery(deliveryMutex_);
  deliveringThread_ = std::this_thread::get_id();
  while (true) {
    std::deque<WatchEvent> batch;
    std::vector<std::shared_ptr<Subscriber>> subscribers;
    std::vector<std::deque<WatchEvent>> backlogs;
    {
      std::lock_guard lock(mutex_);
      bool anyBacklog = false;
      for (const auto& subscriber : subscribers_) anyBacklog |= !subscriber->backlog.empty();
      if (pending_.empty() && !anyBacklog) break;
      batch.swap(pending_);
      subscribers = subscribers_;
      for (const auto& subscriber : subscribers) {
        backlogs.emplace_back();
        backlogs.back().swap(subscriber->backlog);
      }
    }
    for (size_t i = 0; i < subscribers.size(); ++i) {
      Subscriber& subscriber = *subscribers[i];
      for (const auto& event : backlogs[i]) call(subscriber, event);
      for (const auto& event : batch) {
        if (event.resourceVersion <= subscriber.cursor) continue;
        subscriber.cursor = event.resourceVersion;
        call(subscriber, event);
      }
    }
  }
  deliveringThread_ = std::thread::id();
}

void EventDispatcher::call(Subscriber& subscriber, const WatchEvent& event) {
  if (!subscriber.active) return;
  // A throwing callback must not take the writer (or the other subscribers) down with it.
  try {
    subscriber.callback(event);
  } catch (const std::exception& error) {
    logger("controller.store")
        ->error("watch_callback_failed key={} error={}", event.key.toString(), error.what());
  } catch (...) {
    logger("controller.store")->error("watch_callback_failed key={}", event.key.toString());
  }
}

}  // namespace siteplane::store
