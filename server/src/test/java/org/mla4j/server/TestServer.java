package org.mla4j.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** A server on a loopback port for a test, and a small HTTP client for it. */
final class TestServer implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    final Mla4jServer server;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    final String base;

    TestServer(ServerConfig config) {
        server = Mla4jServer.start(config.withPort(0).withThreads(1));
        base = "http://127.0.0.1:" + server.port();
        try {
            assertTrue(server.awaitLoaded(Duration.ofSeconds(60)), "model loaded");
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    static TestServer of(Path model) {
        return new TestServer(ServerConfig.defaults(model));
    }

    record Reply(int status, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }
    }

    Reply post(String path, String body) {
        return send(HttpRequest.newBuilder(URI.create(base + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    Reply get(String path) {
        return send(HttpRequest.newBuilder(URI.create(base + path)).GET().build());
    }

    Reply send(HttpRequest r) {
        try {
            HttpResponse<String> res = http.send(r, HttpResponse.BodyHandlers.ofString());
            return new Reply(res.statusCode(), res.body());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** A value of the Prometheus text at /metrics (the first line starting with the series name). */
    long metric(String series) {
        String text = get("/metrics").body();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\d+)$").matcher(text);
        if (!m.find()) throw new AssertionError("no " + series + " in\n" + text);
        return Long.parseLong(m.group(1));
    }

    @Override
    public void close() {
        server.shutdown(Duration.ofSeconds(5));
    }
}
