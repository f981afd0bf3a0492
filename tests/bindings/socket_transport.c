#define _POSIX_C_SOURCE 200809L

#include "socket_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { kTimeoutSeconds = 10 };

bool socket_transport_init(socket_transport* transport, const char* url) {
  transport->exchanges = 0;
  return sscanf(url, "http://%63[^:]:%d", transport->host, &transport->port) == 2;
}

/* A growing byte buffer. */
typedef struct buffer {
  char* data;
  size_t size;
  size_t capacity;
} buffer;

static bool append(buffer* out, const void* data, size_t size) {
  if (out->size + size + 1 > out->capacity) {
    size_t capacity = out->capacity == 0 ? 4096 : out->capacity;
    while (out->size + size + 1 > capacity) capacity *= 2;
    char* grown = realloc(out->data, capacity);
    if (grown == NULL) return false;
    out->data = grown;
    out->capacity = capacity;
  }
  memcpy(out->data + out->size, data, size);
  out->size += size;
  out->data[out->size] = '\0';
  return true;
}

static bool append_text(buffer* out, const char* text) { return append(out, text, strlen(text)); }

/* Headers the socket itself frames. */
static bool is_framing(const char* name) {
  return strcasecmp(name, "Host") == 0 || strcasecmp(name, "Content-Length") == 0 ||
         strcasecmp(name, "Connection") == 0 || strcasecmp(name, "Transfer-Encoding") == 0;
}

static bool format_request(const socket_transport* transport, const lumbung_http_request* request,
                           buffer* out) {
  char line[512];
  size_t body_size = 0;
  const void* body = lumbung_http_request_body(request, &body_size);
  snprintf(line, sizeof line, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n",
           lumbung_http_request_method(request), lumbung_http_request_path(request),
           transport->host, transport->port);
  bool ok = append_text(out, line);
  for (size_t i = 0; i < lumbung_http_request_header_count(request); ++i) {
    const char* name = lumbung_http_request_header_name(request, i);
    if (is_framing(name)) continue;
    ok = ok && append_text(out, name) && append_text(out, ": ") &&
         append_text(out, lumbung_http_request_header_value(request, i)) &&
         append_text(out, "\r\n");
  }
  snprintf(line, sizeof line, "Content-Length: %zu\r\nConnection: close\r\n\r\n", body_size);
  return ok && append_text(out, line) && append(out, body, body_size);
}

static int connect_to(const socket_transport* transport) {
  struct sockaddr_in address;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)transport->port);
  if (inet_pton(AF_INET, transport->host, &address.sin_addr) != 1) return -1;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval timeout = {kTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (connect(fd, (const struct sockaddr*)&address, sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static bool send_all(int fd, const buffer* data) {
  for (size_t sent = 0; sent < data->size;) {
    const ssize_t n = send(fd, data->data + sent, data->size - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += (size_t)n;
  }
  return true;
}

/* The value of the Content-Length line among the headers before `end`. */
static const char* content_length(const char* head, const char* end) {
  static const char kName[] = "Content-Length:";
  for (const char* line = strstr(head, "\r\n"); line != NULL && line < end;
       line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, kName, strlen(kName)) == 0) return line + 2 + strlen(kName);
  }
  return NULL;
}

/* Reads until the headers and Content-Length bytes of body have arrived; the
 * offset of the body and its size into *body_at and *body_size. */
static bool receive(int fd, buffer* in, size_t* body_at, size_t* body_size) {
  char chunk[8192];
  for (;;) {
    const char* end = in->data != NULL ? strstr(in->data, "\r\n\r\n") : NULL;
    if (end != NULL) {
      *body_at = (size_t)(end - in->data) + 4;
      const char* length = content_length(in->data, end);
      if (length == NULL) return false;
      *body_size = (size_t)strtoull(length, NULL, 10);
      if (in->size >= *body_at + *body_size) return true;
    }
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    if (!append(in, chunk, (size_t)n)) return false;
  }
}

/* Copies the status line and headers of `in` into `response`. */
static bool parse_head(buffer* in, size_t body_at, lumbung_http_response* response) {
  int status = 0;
  if (sscanf(in->data, "HTTP/1.%*d %d", &status) != 1) return false;
  lumbung_http_response_set_status(response, status);
  in->data[body_at - 2] = '\0'; /* ends the last header line */
  char* line = strstr(in->data, "\r\n") + 2;
  while (*line != '\0') {
    char* next = strstr(line, "\r\n");
    if (next != NULL) *next = '\0';
    char* colon = strchr(line, ':');
    if (colon != NULL) {
      *colon = '\0';
      const char* value = colon + 1;
      while (*value == ' ') ++value;
      lumbung_http_response_add_header(response, line, value);
    }
    if (next == NULL) break;
    line = next + 2;
  }
  return true;
}

void socket_transport_exchange(void* userdata, const lumbung_http_request* request,
                               lumbung_http_response* response) {
  socket_transport* transport = userdata;
  buffer out = {NULL, 0, 0};
  buffer in = {NULL, 0, 0};
  size_t body_at = 0;
  size_t body_size = 0;
  const int fd = connect_to(transport);
  if (fd < 0) {
    lumbung_http_response_fail(response, LUMBUNG_NETWORK, "cannot connect");
  } else if (!format_request(transport, request, &out) || !send_all(fd, &out) ||
             !receive(fd, &in, &body_at, &body_size)) {
    lumbung_http_response_fail(response, errno == EAGAIN ? LUMBUNG_TIMEOUT : LUMBUNG_NETWORK,
                               "the exchange broke");
  } else {
    /* The body first: parse_head cuts the text before it. */
    lumbung_http_response_set_body(response, in.data + body_at, body_size);
    if (!parse_head(&in, body_at, response)) {
      lumbung_http_response_fail(response, LUMBUNG_NETWORK, "malformed response");
    }
    ++transport->exchanges;
  }
  if (fd >= 0) close(fd);
  free(out.data);
  free(in.data);
}
