package org.mla4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;

/** A client that goes away frees its slot; shutdown finishes or cancels running requests within its bound. */
class DisconnectAndShutdownTest {
    static final String LONG = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 1900, \"ignore_eos\": true, "
            + "\"stream\": true}";

    /** Sends a streamed request on a raw socket and reads until n data events arrived. */
    static Socket startStream(TestServer s, String body, int events) throws Exception {
        Socket socket = new Socket("127.0.0.1", s.server.port());
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        int seen = 0;
        String line;
        while (seen < events && (line = in.readLine()) != null) {
            if (line.contains("data: {")) seen++;
        }
        assertEquals(events, seen, "events before the disconnect");
        return socket;
    }

    static void awaitMetric(TestServer s, String series, long value) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (s.metric(series) != value && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(value, s.metric(series), series);
    }

    @Test
    void aClientThatDisconnectsMidStreamFreesItsSlot() throws Exception {
        Path model = Fixtures.require("models/stories260K.gguf");
        try (TestServer s = new TestServer(ServerConfig.defaults(model).withParallel(2))) {
            for (int round = 1; round <= 3; round++) {
                Socket a = startStream(s, LONG, 3);
                Socket b = startStream(s, LONG, 3);
                assertEquals(2, s.metric("mla4j_slots_busy"));
                assertTrue(s.metric("mla4j_kv_cache_tokens_used") > 0);
                assertTrue(s.metric("mla4j_kv_cache_blocks_used") >= 2); // each stream holds at least one block
                a.close();
                b.close();
                // The next write fails, the generation is cancelled, the slots are free at the next step.
                awaitMetric(s, "mla4j_slots_busy", 0);
                awaitMetric(s, "mla4j_kv_cache_tokens_used", 0);
                awaitMetric(s, "mla4j_kv_cache_bytes_used", 0);
                awaitMetric(s, "mla4j_kv_cache_blocks_used", 0); // the paged cache got every block back
                awaitMetric(s, "mla4j_requests_finished_total{reason=\"cancelled\"}", 2L * round);
            }
            // And the server still serves.
            TestServer.Reply r = s.post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 3, "
                    + "\"temperature\": 0}");
            assertEquals(", there was", r.json().at("/choices/0/text").asText());
        }
    }

    @Test
    void shutdownCancelsARequestThatOutlivesTheGracePeriodWithinTheBound() throws Exception {
        Path model = Fixtures.require("models/stories260K.gguf");
        TestServer s = new TestServer(ServerConfig.defaults(model).withParallel(2).withContextSize(2 * 2048));
        HttpRequest longOne = HttpRequest.newBuilder(URI.create(s.base + "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(LONG.replace("1900", "2000"))).build();
        HttpResponse<InputStream> running = s.http.send(longOne, HttpResponse.BodyHandlers.ofInputStream());
        List<String> lines = new ArrayList<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) synchronized (lines) { lines.add(line); }
            } catch (Exception ignored) {
                // the server closed the connection
            }
        });
        awaitMetric(s, "mla4j_slots_busy", 1);
        long t0 = System.nanoTime();
        // The long request cannot finish in 200 ms at this model's speed (2000 tokens): it is cancelled.
        boolean clean = s.server.shutdown(Duration.ofMillis(200));
        double seconds = (System.nanoTime() - t0) / 1e9;
        reader.join(5000);
        assertFalse(clean, "the running request had to be cancelled");
        assertTrue(seconds < 5, "shutdown took " + seconds + " s");
        System.err.printf("shutdown with a 200 ms grace period took %.2f s%n", seconds);
        synchronized (lines) {
            String all = String.join("\n", lines);
            assertTrue(all.contains("server_shutting_down"), all.length() > 500 ? all.substring(all.length() - 500) : all);
            assertTrue(all.strip().endsWith("data: [DONE]"), "the stream ends properly");
        }
        // New connections are refused once it is down.
        assertThrowsConnect(s.base);
    }

    @Test
    void shutdownLetsARunningRequestFinishWithinTheGracePeriod() throws Exception {
        Path model = Fixtures.require("models/stories260K.gguf");
        TestServer s = new TestServer(ServerConfig.defaults(model));
        var reply = java.util.concurrent.CompletableFuture.supplyAsync(() -> s.post("/v1/completions",
                "{\"prompt\": \"Once upon a time\", \"max_tokens\": 300, \"ignore_eos\": true}"));
        awaitMetric(s, "mla4j_slots_busy", 1);
        assertTrue(s.server.shutdown(Duration.ofSeconds(60)), "finished by itself");
        TestServer.Reply r = reply.get();
        assertEquals(200, r.status(), r.body());
        assertEquals("length", r.json().at("/choices/0/finish_reason").asText());
        assertEquals(300, r.json().at("/usage/completion_tokens").asInt());
    }

    static void assertThrowsConnect(String base) {
        try (Socket socket = new Socket("127.0.0.1", URI.create(base).getPort())) {
            throw new AssertionError("the port is still open");
        } catch (java.io.IOException expected) {
            // closed
        }
    }
}
