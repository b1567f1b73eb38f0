package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;

/**
 * `mla4j serve` in its own JVM: SIGTERM while a long streamed request runs ends the process within the shutdown
 * bound (--shutdown-timeout 1 s plus the stop), after sending that client the end of its stream.
 */
class ServeSigtermTest {

    @Test
    void sigtermStopsTheServerWithinItsBound() throws Exception {
        String model = Fixtures.require("models/stories260K.gguf").toString();
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "serve", "-m", model, "--port", "0", "-t", "1", "--shutdown-timeout", "1");
        Path logFile = Files.createTempFile("mla4j-serve", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
        Pattern listening = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)/");
        StringBuilder log = new StringBuilder();
        try {
            int portNumber = -1;
            for (long d = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); portNumber < 0 && System.nanoTime() < d; ) {
                Matcher m = listening.matcher(Files.readString(logFile));
                if (m.find()) portNumber = Integer.parseInt(m.group(1));
                else Thread.sleep(50);
            }
            assertTrue(portNumber > 0, "no port in:\n" + Files.readString(logFile));
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            String base = "http://127.0.0.1:" + portNumber;
            // Wait for the model, then start a generation that cannot end by itself within the bound.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode() != 200) {
                assertTrue(System.nanoTime() < deadline, "not healthy:\n" + log);
                Thread.sleep(50);
            }
            HttpResponse<InputStream> res = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"Once\", \"max_tokens\": 2000, "
                            + "\"ignore_eos\": true, \"stream\": true}")).build(), HttpResponse.BodyHandlers.ofInputStream());
            StringBuilder body = new StringBuilder();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
                assertTrue(in.readLine().startsWith("data: "));
                long t0 = System.nanoTime();
                p.destroy(); // SIGTERM
                String line;
                while ((line = in.readLine()) != null) body.append(line).append('\n');
                assertTrue(p.waitFor(15, TimeUnit.SECONDS), "still running 15 s after SIGTERM");
                double seconds = (System.nanoTime() - t0) / 1e9;
                System.err.printf("mla4j serve exited %.2f s after SIGTERM (grace 1 s)%n", seconds);
                assertTrue(seconds < 10, "took " + seconds + " s");
            }
            assertTrue(body.toString().contains("server_shutting_down"), body.length() > 300
                    ? body.substring(body.length() - 300) : body.toString());
            assertTrue(body.toString().strip().endsWith("data: [DONE]"), body.substring(Math.max(0, body.length() - 400)));
            log.append(Files.readString(logFile));
            assertTrue(log.toString().contains("stopped (requests still running were cancelled)"), log.toString());
            assertEquals(143, p.exitValue()); // 128 + SIGTERM, after the shutdown hooks ran
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(logFile);
        }
    }
}
