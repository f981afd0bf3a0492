/* An app transport as a mobile app would write one over its own HTTP stack:
 * here plain HTTP/1.1 over a POSIX socket, one connection per exchange. It
 * counts the exchanges it carried. */
#ifndef LUMBUNG_TESTS_BINDINGS_SOCKET_TRANSPORT_H_
#define LUMBUNG_TESTS_BINDINGS_SOCKET_TRANSPORT_H_

#include "lumbung.h"

typedef struct socket_transport {
  char host[64];
  int port;
  int exchanges;
} socket_transport;

/* Points `transport` at "http://HOST:PORT". False for another form of URL. */
bool socket_transport_init(socket_transport* transport, const char* url);

/* A lumbung_transport_fn; `userdata` is a socket_transport*. */
void socket_transport_exchange(void* userdata, const lumbung_http_request* request,
                               lumbung_http_response* response);

#endif
