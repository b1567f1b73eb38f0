package org.mla4j.server;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** HTTP requests counted by endpoint and status, for /metrics. */
final class HttpMetrics {
    private static final java.util.Set<String> KNOWN = java.util.Set.of("/v1/chat/completions", "/chat/completions",
            "/v1/completions", "/completions", "/v1/models", "/models", "/health", "/v1/health", "/metrics", "/tokenize",
            "/detokenize", "/", "/index.html");

    private final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();

    void count(String path, int status) {
        // Unknown paths share one label, so that scanning clients cannot grow the map without bound.
        String endpoint = KNOWN.contains(path) ? path : "other";
        counts.computeIfAbsent(endpoint + "\u0000" + status, k -> new AtomicLong()).incrementAndGet();
    }

    /** (endpoint, status) to count, sorted. */
    Map<String[], Long> snapshot() {
        Map<String, Long> sorted = new TreeMap<>();
        counts.forEach((k, v) -> sorted.put(k, v.get()));
        Map<String[], Long> out = new java.util.LinkedHashMap<>();
        sorted.forEach((k, v) -> out.put(k.split("\u0000"), v));
        return out;
    }
}
