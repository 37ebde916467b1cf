/** The head of a small haproxy config (global, defaults, a frontend on 127.0.0.1:8080), for tests that run `haproxy -c`. */
export const HAPROXY_HEAD = `global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend web
    bind 127.0.0.1:8080
    default_backend web
backend web
`;
