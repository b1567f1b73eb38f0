package org.mla4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.StoriesGreedyTestAccess;

/**
 * The chat page at / in headless Chromium, driven over the DevTools protocol (the JDK's WebSocket client): type a
 * message, send it, and watch the reply arrive in several streamed pieces until it equals llama.cpp's greedy
 * continuation. Skipped, saying so, where /usr/bin/chromium is absent. With -Dmla4j.screenshot=FILE it also saves a
 * screenshot (docs/chat-page.png was made so).
 */
class ChatPageTest {
    static final Path CHROMIUM = Path.of(System.getProperty("mla4j.chromium", "/usr/bin/chromium"));

    @Test
    void thePageStreamsAReply(@TempDir Path profile) throws Exception {
        if (!Files.isExecutable(CHROMIUM)) {
            System.err.println("SKIPPED: ChatPageTest needs Chromium at " + CHROMIUM + " (apt-get install chromium)");
        }
        assumeTrue(Files.isExecutable(CHROMIUM), "Chromium not installed at " + CHROMIUM);
        Path model = Fixtures.require("models/stories260K.gguf");
        try (TestServer s = TestServer.of(model)) {
            Process browser = new ProcessBuilder(CHROMIUM.toString(), "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--no-first-run", "--remote-debugging-port=0", "--user-data-dir=" + profile, "--window-size=1000,700",
                    "about:blank").redirectErrorStream(true).start();
            try (Cdp cdp = Cdp.connect(browser)) {
                cdp.call("Page.enable", Map.of());
                cdp.call("Page.navigate", Map.of("url", s.base + "/"));
                cdp.waitFor("document.readyState === 'complete' && document.getElementById('model').textContent "
                        + "=== 'stories260K.gguf'");
                cdp.eval("document.getElementById('temperature').value = '0';"
                        + "document.getElementById('max-tokens').value = '60';"
                        + "document.getElementById('input').value = " + TestServer.JSON.writeValueAsString(
                                StoriesGreedyTestAccess.PROMPT) + ";"
                        + "document.getElementById('form').requestSubmit(); true");
                cdp.waitFor("document.getElementById('reply-1') && document.getElementById('reply-1').dataset.done "
                        + "=== 'true'");
                String reply = cdp.eval("document.getElementById('reply-1').textContent").asText();
                int chunks = cdp.eval("parseInt(document.getElementById('reply-1').dataset.chunks, 10)").asInt();
                assertEquals(StoriesGreedyTestAccess.REFERENCE.substring(StoriesGreedyTestAccess.PROMPT.length()), reply);
                assertTrue(chunks > 10, "the reply arrived in " + chunks + " streamed pieces");
                String stats = cdp.eval("document.querySelector('.stats').textContent").asText();
                assertTrue(stats.startsWith("60 tokens in"), stats);
                String shot = System.getProperty("mla4j.screenshot");
                if (shot != null) {
                    JsonNode png = cdp.call("Page.captureScreenshot", Map.of("format", "png"));
                    Files.write(Path.of(shot), Base64.getDecoder().decode(png.get("data").asText()));
                }
            } finally {
                browser.destroyForcibly();
                browser.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** A minimal Chrome DevTools Protocol client on one page target. */
    static final class Cdp implements AutoCloseable, WebSocket.Listener {
        private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
        private final AtomicInteger ids = new AtomicInteger();
        private final StringBuilder partial = new StringBuilder();
        private WebSocket socket;

        static Cdp connect(Process browser) throws Exception {
            // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID".
            BufferedReader err = new BufferedReader(new InputStreamReader(browser.getInputStream(), StandardCharsets.UTF_8));
            Pattern p = Pattern.compile("DevTools listening on ws://127\\.0\\.0\\.1:(\\d+)/");
            int port = -1;
            String line;
            StringBuilder out = new StringBuilder();
            while (port < 0 && (line = err.readLine()) != null) {
                out.append(line).append('\n');
                Matcher m = p.matcher(line);
                if (m.find()) port = Integer.parseInt(m.group(1));
            }
            if (port < 0) throw new AssertionError("Chromium did not start:\n" + out);
            Thread.ofVirtual().start(() -> {
                try {
                    while (err.readLine() != null) {
                        // drain Chromium's output so that it never blocks
                    }
                } catch (Exception ignored) {
                    // closed
                }
            });
            HttpClient http = HttpClient.newHttpClient();
            String list = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            String ws = null;
            for (JsonNode t : TestServer.JSON.readTree(list)) {
                if ("page".equals(t.path("type").asText())) ws = t.get("webSocketDebuggerUrl").asText();
            }
            if (ws == null) throw new AssertionError("no page target in " + list);
            Cdp cdp = new Cdp();
            cdp.socket = http.newWebSocketBuilder().buildAsync(URI.create(ws), cdp).get(30, TimeUnit.SECONDS);
            return cdp;
        }

        JsonNode call(String method, Map<String, ?> params) throws Exception {
            int id = ids.incrementAndGet();
            CompletableFuture<JsonNode> f = new CompletableFuture<>();
            pending.put(id, f);
            ObjectNode msg = TestServer.JSON.createObjectNode();
            msg.put("id", id);
            msg.put("method", method);
            msg.set("params", TestServer.JSON.valueToTree(params));
            socket.sendText(TestServer.JSON.writeValueAsString(msg), true).get(30, TimeUnit.SECONDS);
            JsonNode r = f.get(60, TimeUnit.SECONDS);
            if (r.has("error")) throw new AssertionError(method + ": " + r.get("error"));
            return r.get("result");
        }

        JsonNode eval(String js) throws Exception {
            JsonNode r = call("Runtime.evaluate", Map.of("expression", js, "returnByValue", true));
            if (r.has("exceptionDetails")) throw new AssertionError(js + ": " + r.get("exceptionDetails"));
            return r.at("/result/value");
        }

        void waitFor(String condition) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!eval("!!(" + condition + ")").asBoolean()) {
                if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + condition);
                Thread.sleep(50);
            }
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    JsonNode msg = TestServer.JSON.readTree(partial.toString());
                    CompletableFuture<JsonNode> f = msg.has("id") ? pending.remove(msg.get("id").asInt()) : null;
                    if (f != null) f.complete(msg);
                } catch (Exception e) {
                    // an event we do not read
                }
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public void close() {
            if (socket != null) socket.abort();
        }
    }
}
