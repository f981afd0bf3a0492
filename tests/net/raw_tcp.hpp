// Plain POSIX sockets on 127.0.0.1 for the network tests: a misbehaving
// client (trickled or oversized requests) and a scripted server (silent, or
// closing mid-answer), which the real client and server cannot play.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "lumbung/http.hpp"

namespace lumbung::test {

using Deadline = std::chrono::steady_clock::time_point;

inline Deadline after(std::chrono::milliseconds timeout) {
  return std::chrono::steady_clock::now() + timeout;
}

[[noreturn]] inline void throw_socket_error(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// 127.0.0.1, or another address of 127.0.0.0/8 (`host`, e.g. 2 for 127.0.0.2).
inline sockaddr_in loopback(std::uint16_t port, std::uint8_t host = 1) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl((127u << 24) | host);
  return address;
}

// `request` as HTTP/1.1 bytes, with `token` as its bearer token unless empty,
// announcing `content_length` bytes of body (default: its body's size).
inline std::string http_text(const HttpRequest& request, std::string_view token = {},
                             std::optional<std::size_t> content_length = std::nullopt) {
  std::string text = request.method + " " + request.target + " HTTP/1.1\r\nHost: x\r\n";
  if (!token.empty()) text += "Authorization: Bearer " + std::string(token) + "\r\n";
  for (const auto& [name, value] : request.headers) text += name + ": " + value + "\r\n";
  return text + "Content-Length: " + std::to_string(content_length.value_or(request.body.size())) +
         "\r\n\r\n" + request.body;
}

// True when `fd` became readable before `deadline`.
inline bool wait_readable(int fd, Deadline deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Deadline::clock::now());
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, static_cast<int>(std::max<long>(left.count(), 0))) > 0;
}

// One TCP connection.
class RawConnection {
 public:
  explicit RawConnection(int fd) : fd_(fd) {}
  RawConnection(RawConnection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RawConnection& operator=(RawConnection&&) = delete;
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }

  // To 127.0.0.1:`port`, from 127.0.0.`from`.
  static RawConnection connect(std::uint16_t port, std::uint8_t from = 1) {
    RawConnection connection(::socket(AF_INET, SOCK_STREAM, 0));
    if (connection.fd_ < 0) throw_socket_error("socket");
    const sockaddr_in source = loopback(0, from);
    if (::bind(connection.fd_, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0) {
      throw_socket_error("bind");
    }
    const sockaddr_in address = loopback(port);
    if (::connect(connection.fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) !=
        0) {
      throw_socket_error("connect");
    }
    return connection;
  }

  // False when the peer has closed (or reset) the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads what arrives before `deadline`, until the peer closes the
  // connection (closed() is then true) or, when given, `marker` has arrived.
  std::string read(Deadline deadline, std::string_view marker = {}) {
    std::string received;
    char buffer[4096];
    while (!closed_ && (marker.empty() || received.find(marker) == std::string::npos) &&
           wait_readable(fd_, deadline)) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed_ = true;
      } else {
        received.append(buffer, static_cast<std::size_t>(n));
      }
    }
    return received;
  }

  bool closed() const { return closed_; }

 private:
  int fd_;
  bool closed_ = false;
};

// A listening socket that accepts only when told to.
class RawListener {
 public:
  RawListener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw_socket_error("socket");
    sockaddr_in address = loopback(0);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      throw_socket_error("bind");
    }
    if (::listen(fd_, 16) != 0) throw_socket_error("listen");
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~RawListener() { ::close(fd_); }
  RawListener(const RawListener&) = delete;
  RawListener& operator=(const RawListener&) = delete;

  std::uint16_t port() const { return port_; }

  // The next connection, or nullopt when none comes before `deadline`.
  std::optional<RawConnection> accept(Deadline deadline) {
    if (!wait_readable(fd_, deadline)) return std::nullopt;
    const int fd = ::accept(fd_, nullptr, nullptr);
    if (fd < 0) throw_socket_error("accept");
    return RawConnection(fd);
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

}  // namespace lumbung::test
