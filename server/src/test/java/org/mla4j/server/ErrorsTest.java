package org.mla4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;

/** Every refused request gets OpenAI's error object with the right status, type, param and code. */
class ErrorsTest {
    static final String CHAT = "/v1/chat/completions";
    static Path model;
    static TestServer server;

    @BeforeAll
    static void start() {
        model = Fixtures.require("models/stories260K.gguf");
        server = new TestServer(ServerConfig.defaults(model).withContextSize(64).withMaxTokens(32)
                .withMaxBodyBytes(4096));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    static JsonNode error(TestServer.Reply r, int status) {
        assertEquals(status, r.status(), r.body());
        JsonNode e = r.json().get("error");
        assertTrue(e != null && e.get("message").isTextual() && !e.get("message").asText().isEmpty(), r.body());
        assertTrue(e.has("type") && e.has("param") && e.has("code"), r.body());
        return e;
    }

    @Test
    void malformedJson() {
        JsonNode e = error(server.post(CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}"), 400);
        assertEquals("invalid_request_error", e.get("type").asText());
        assertEquals("invalid_json", e.get("code").asText());
        assertEquals("invalid_json", error(server.post(CHAT, "[1, 2]"), 400).get("code").asText());
        assertEquals("invalid_json", error(server.post(CHAT, ""), 400).get("code").asText());
        assertEquals("invalid_json", error(server.post(CHAT, "{\"a\": 1} trailing"), 400).get("code").asText());
    }

    @Test
    void fieldsOfTheWrongType() {
        String msgs = "\"messages\": [{\"role\": \"user\", \"content\": \"Once\"}]";
        String[][] cases = {
            {"{" + msgs + ", \"max_tokens\": \"ten\"}", "max_tokens"},
            {"{" + msgs + ", \"temperature\": \"hot\"}", "temperature"},
            {"{" + msgs + ", \"stream\": \"yes\"}", "stream"},
            {"{" + msgs + ", \"stop\": [1, 2]}", "stop"},
            {"{" + msgs + ", \"seed\": 1.5}", "seed"},
            {"{\"messages\": \"Once\"}", "messages"},
            {"{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "messages[0].content"},
        };
        for (String[] c : cases) {
            JsonNode e = error(server.post(CHAT, c[0]), 400);
            assertEquals(c[1], e.get("param").asText(), c[0]);
            assertEquals("invalid_type", e.get("code").asText(), c[0]);
        }
        JsonNode missing = error(server.post(CHAT, "{\"model\": \"x\"}"), 400);
        assertEquals("messages", missing.get("param").asText());
        JsonNode range = error(server.post(CHAT, "{" + msgs + ", \"top_p\": 1.5}"), 400);
        assertEquals("top_p", range.get("param").asText());
        assertEquals("n", error(server.post(CHAT, "{" + msgs + ", \"n\": 2}"), 400).get("param").asText());
    }

    @Test
    void promptLongerThanTheContextAndTooManyTokens() {
        int[] ids = new int[100];
        Arrays.fill(ids, 300);
        ids[0] = 1;
        JsonNode e = error(server.post("/v1/completions", "{\"prompt\": " + Arrays.toString(ids) + "}"), 400);
        assertEquals("context_length_exceeded", e.get("code").asText());
        assertEquals("prompt", e.get("param").asText());
        String longText = "Once upon a time ".repeat(40);
        JsonNode c = error(server.post(CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"" + longText
                + "\"}]}"), 400);
        assertEquals("context_length_exceeded", c.get("code").asText());
        assertEquals("messages", c.get("param").asText());
        JsonNode m = error(server.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 33}"), 400);
        assertEquals("max_tokens", m.get("param").asText());
        assertEquals(200, server.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 32}").status());
        JsonNode t = error(server.post("/v1/completions", "{\"prompt\": [1, 999999]}"), 400);
        assertTrue(t.get("message").asText().contains("outside the vocabulary"), t.toString());
    }

    @Test
    void oversizedBodyAndUnknownEndpoint() {
        String big = "{\"prompt\": \"" + "a".repeat(5000) + "\"}";
        assertEquals("request_too_large", error(server.post("/v1/completions", big), 413).get("code").asText());
        assertEquals("not_found", error(server.get("/v1/nothing"), 404).get("code").asText());
        assertEquals(200, server.get("/health").status());
    }

    @Test
    void aPortInUseIsAnError() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1,
                java.net.InetAddress.getByName("127.0.0.1"))) {
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> Mla4jServer.start(ServerConfig.defaults(model).withPort(taken.getLocalPort())));
            assertTrue(e.getMessage().contains("cannot listen on 127.0.0.1:" + taken.getLocalPort()), e.getMessage());
        }
    }

    @Test
    void apiKeyIsRequiredWhenSet() {
        try (TestServer s = new TestServer(ServerConfig.defaults(model).withApiKey("sesame"))) {
            String body = "{\"prompt\": \"Once\", \"max_tokens\": 2}";
            JsonNode missing = error(s.post("/v1/completions", body), 401);
            assertEquals("invalid_api_key", missing.get("code").asText());
            HttpRequest wrong = HttpRequest.newBuilder(URI.create(s.base + "/v1/completions"))
                    .header("Authorization", "Bearer open").POST(HttpRequest.BodyPublishers.ofString(body)).build();
            error(s.send(wrong), 401);
            error(s.get("/v1/models"), 401);
            error(s.get("/metrics"), 401);
            HttpRequest right = HttpRequest.newBuilder(URI.create(s.base + "/v1/completions"))
                    .header("Authorization", "Bearer sesame").POST(HttpRequest.BodyPublishers.ofString(body)).build();
            assertEquals(200, s.send(right).status());
            assertEquals(200, s.get("/health").status()); // health and the chat page need no key
            assertEquals(200, s.get("/").status());
        }
    }

    @Test
    void tooManyQueuedRequestsGet429() throws Exception {
        // One slot, nothing may wait: while a long generation runs, the next request is refused.
        try (TestServer s = new TestServer(ServerConfig.defaults(model).withMaxQueued(0))) {
            HttpRequest longOne = HttpRequest.newBuilder(URI.create(s.base + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"Once\", \"max_tokens\": 2000, "
                            + "\"ignore_eos\": true, \"stream\": true}")).build();
            HttpResponse<InputStream> running = s.http.send(longOne, HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8))) {
                assertTrue(in.readLine().startsWith("data: "), "the long request runs");
                JsonNode e = error(s.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2}"), 429);
                assertEquals("rate_limit_exceeded", e.get("code").asText());
                assertEquals(1, s.metric("mla4j_requests_rejected_total"));
            }
        }
    }
}
