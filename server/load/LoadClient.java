import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load client for OpenAI-compatible servers (mla4j serve, llama-server, ...), JDK only, one file:
 *
 *   java server/load/LoadClient.java --url http://127.0.0.1:8080 --clients 8 [--requests 16] \
 *        --prompt-tokens 512 --max-tokens 128 [--shared-prefix TOKENS] [--chat] [--api-key KEY] \
 *        [--metric mla4j_kv_cache_bytes_used] [--slots-bytes-per-token BYTES] [--json]
 *
 * N clients each send streamed /v1/completions (or /v1/chat/completions with --chat) requests one after the other
 * until --requests in all are done. Every request has its own random prompt of about --prompt-tokens tokens (exact
 * when the server has llama-server's /tokenize: words are added until the count is reached), so no prompt prefix is
 * shared between requests, and asks for --max-tokens tokens with ignore_eos (llama-server's and mla4j's extension;
 * --no-ignore-eos for servers that refuse it) at temperature 0. Reported: aggregate generated tokens/s (all
 * completion tokens over the wall time of the run), time to first token p50/p99 (request sent to first text), and
 * inter-token latency p50/p99 (gaps between successive text chunks), plus the largest value seen of a /metrics
 * series when --metric is given (polled every 200 ms). --shared-prefix T makes the first T tokens of every prompt the
 * same (a system prompt), to measure prefix caching; without it no two prompts share more than a token or two.
 *
 * Cache bytes in use: mla4j reports the bytes its running requests hold (--metric mla4j_kv_cache_bytes_used: the
 * paged blocks in use, prefix blocks shared between requests counted once). llama-server has no such series; its
 * cache is allocated whole at start (the "llama_kv_cache: size = ... MiB (N cells ...)" line of its log: that size
 * over N cells is its bytes per token). --slots-bytes-per-token B polls llama-server's /slots and reports the
 * largest sum over slots of n_prompt_tokens (the tokens each slot's cache holds, prompt and reply so far) times B:
 * the cache cells in use, in bytes.
 */
public final class LoadClient {
    static String url = "http://127.0.0.1:8080";
    static int clients = 1;
    static int requests = -1;
    static int promptTokens = 512;
    static int maxTokens = 128;
    static boolean chat;
    static boolean ignoreEos = true;
    static String apiKey;
    static String metric;
    static boolean json;
    static String model = "default";
    static long seed = 42;
    static int sharedPrefix;
    static long slotsBytesPerToken;

    record Result(long ttftNanos, List<Long> gaps, int tokens, int promptTokens, String error) {
    }

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--url" -> url = args[++i].replaceAll("/+$", "");
                case "--clients", "-n" -> clients = Integer.parseInt(args[++i]);
                case "--requests" -> requests = Integer.parseInt(args[++i]);
                case "--prompt-tokens" -> promptTokens = Integer.parseInt(args[++i]);
                case "--max-tokens" -> maxTokens = Integer.parseInt(args[++i]);
                case "--chat" -> chat = true;
                case "--no-ignore-eos" -> ignoreEos = false;
                case "--api-key" -> apiKey = args[++i];
                case "--metric" -> metric = args[++i];
                case "--model" -> model = args[++i];
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--json" -> json = true;
                case "--shared-prefix" -> sharedPrefix = Integer.parseInt(args[++i]);
                case "--slots-bytes-per-token" -> slotsBytesPerToken = Long.parseLong(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i] + " (see the comment at the top of LoadClient.java)");
                    System.exit(2);
                }
            }
        }
        if (requests < 0) requests = clients;
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        Random random = new Random(seed);
        List<String> prompts = new ArrayList<>();
        String prefix = sharedPrefix > 0 ? prompt(http, new Random(seed ^ 0x5eed), "", sharedPrefix) : "";
        for (int r = 0; r < requests; r++) prompts.add(prompt(http, random, prefix, promptTokens));
        AtomicLong metricMax = new AtomicLong(-1);
        Thread poller = null;
        if (metric != null || slotsBytesPerToken > 0) {
            poller = Thread.ofVirtual().start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        long v = metric != null ? scrape(http, metric) : slotTokens(http) * slotsBytesPerToken;
                        metricMax.accumulateAndGet(v, Math::max);
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception e) {
                        // the series is missing or the server is busy; try again
                    }
                }
            });
        }
        AtomicLong next = new AtomicLong();
        List<Result> results = Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime();
        try (ExecutorService pool = Executors.newFixedThreadPool(clients)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                fs.add(pool.submit(() -> {
                    for (long r; (r = next.getAndIncrement()) < requests; ) results.add(run(http, prompts.get((int) r)));
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        if (poller != null) poller.interrupt();
        report(results, wall, metricMax.get());
    }

    /**
     * The prefix and random words; trimmed or extended with /tokenize to exactly target tokens when the server offers
     * it (words are added in bunches of about the missing count, then one by one, then removed one by one).
     */
    static String prompt(HttpClient http, Random random, String prefix, int target) throws Exception {
        String[] words = {"the", "river", "quiet", "morning", "light", "over", "stone", "bridge", "children", "ran",
                "toward", "market", "where", "bread", "and", "honey", "waited", "under", "green", "awnings", "while",
                "old", "men", "argued", "about", "weather", "boats", "distant", "hills", "story", "began", "again"};
        StringBuilder sb = new StringBuilder(prefix);
        int n = Math.max(1, (target - sharedPrefixTokens(http, prefix)) / 2); // a word is one token or more
        for (int i = 0; i < n; i++) sb.append(sb.isEmpty() ? "" : " ").append(words[random.nextInt(words.length)]);
        int count = tokenCount(http, sb.toString());
        while (count > 0 && count < target - 8) {
            int add = Math.max(1, (int) ((target - count) * 0.7));
            for (int i = 0; i < add; i++) sb.append(' ').append(words[random.nextInt(words.length)]);
            count = tokenCount(http, sb.toString());
        }
        // Then one word at a time: added below the target, removed above it; a word of several tokens that jumps
        // over the target is taken back and another tried, so the count ends exact.
        for (int tries = 0; count > 0 && count != target && tries < 400; tries++) {
            if (count < target) sb.append(' ').append(words[random.nextInt(words.length)]);
            else if (sb.length() > prefix.length() && sb.lastIndexOf(" ") > 0) sb.setLength(sb.lastIndexOf(" "));
            else break;
            count = tokenCount(http, sb.toString());
        }
        if (count > 0 && count != target) System.err.println("prompt of " + count + " tokens, not " + target);
        return sb.toString();
    }

    static int sharedPrefixTokens(HttpClient http, String prefix) {
        return prefix.isEmpty() ? 0 : Math.max(0, tokenCount(http, prefix));
    }

    /** llama-server's /slots: the tokens all slots' caches hold. */
    static long slotTokens(HttpClient http) throws Exception {
        HttpResponse<String> r = http.send(request("/slots").GET().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IllegalStateException("/slots: HTTP " + r.statusCode());
        Matcher m = Pattern.compile("\"n_prompt_tokens\"\\s*:\\s*(\\d+)").matcher(r.body());
        long sum = 0;
        while (m.find()) sum += Long.parseLong(m.group(1));
        return sum;
    }

    /** Tokens of the text by the server's /tokenize (BOS included as the completion would add it); -1 without. */
    static int tokenCount(HttpClient http, String text) {
        try {
            HttpResponse<String> r = http.send(request("/tokenize").POST(HttpRequest.BodyPublishers.ofString(
                    "{\"content\": " + quote(text) + ", \"add_special\": true}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) return -1;
            Matcher m = Pattern.compile("\"tokens\"\\s*:\\s*\\[([^\\]]*)\\]").matcher(r.body());
            if (!m.find()) return -1;
            String list = m.group(1).trim();
            return list.isEmpty() ? 0 : list.split(",").length;
        } catch (Exception e) {
            return -1;
        }
    }

    static HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).header("Content-Type", "application/json")
                .timeout(Duration.ofMinutes(30));
        if (apiKey != null) b.header("Authorization", "Bearer " + apiKey);
        return b;
    }

    static Result run(HttpClient http, String prompt) {
        String common = "\"model\": " + quote(model) + ", \"max_tokens\": " + maxTokens + ", \"temperature\": 0, "
                + "\"stream\": true, \"stream_options\": {\"include_usage\": true}"
                + (ignoreEos ? ", \"ignore_eos\": true" : "");
        String body = chat ? "{\"messages\": [{\"role\": \"user\", \"content\": " + quote(prompt) + "}], " + common + "}"
                : "{\"prompt\": " + quote(prompt) + ", " + common + "}";
        long sent = System.nanoTime();
        long first = -1;
        long last = -1;
        List<Long> gaps = new ArrayList<>();
        int chunks = 0;
        int usageTokens = -1;
        int usagePrompt = -1;
        Pattern text = chat ? Pattern.compile("\"content\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)+)\"")
                : Pattern.compile("\"text\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)+)\"");
        Pattern completion = Pattern.compile("\"completion_tokens\"\\s*:\\s*(\\d+)");
        Pattern promptUsage = Pattern.compile("\"prompt_tokens\"\\s*:\\s*(\\d+)");
        try {
            HttpResponse<java.io.InputStream> r = http.send(request(chat ? "/v1/chat/completions" : "/v1/completions")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                if (r.statusCode() != 200) {
                    return new Result(0, gaps, 0, 0, "HTTP " + r.statusCode() + ": " + in.readLine());
                }
                String line;
                while ((line = in.readLine()) != null) {
                    if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                    long now = System.nanoTime();
                    if (text.matcher(line).find()) {
                        chunks++;
                        if (first < 0) first = now;
                        else gaps.add(now - last);
                        last = now;
                    }
                    Matcher u = completion.matcher(line);
                    if (u.find()) usageTokens = Integer.parseInt(u.group(1));
                    Matcher p = promptUsage.matcher(line);
                    if (p.find()) usagePrompt = Integer.parseInt(p.group(1));
                }
            }
        } catch (Exception e) {
            return new Result(0, gaps, 0, 0, e.toString());
        }
        if (first < 0) return new Result(0, gaps, 0, usagePrompt, "no text streamed");
        return new Result(first - sent, gaps, usageTokens >= 0 ? usageTokens : chunks, usagePrompt, null);
    }

    static long scrape(HttpClient http, String series) throws Exception {
        HttpResponse<String> r = http.send(request("/metrics").GET().build(), HttpResponse.BodyHandlers.ofString());
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + "(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)$")
                .matcher(r.body());
        if (!m.find()) throw new IllegalStateException("no " + series);
        return (long) Double.parseDouble(m.group(1));
    }

    static void report(List<Result> results, double wall, long metricMax) {
        List<Long> ttft = new ArrayList<>();
        List<Long> gaps = new ArrayList<>();
        long tokens = 0;
        long prompt = 0;
        int errors = 0;
        String firstError = null;
        for (Result r : results) {
            if (r.error() != null) {
                errors++;
                if (firstError == null) firstError = r.error();
                continue;
            }
            ttft.add(r.ttftNanos());
            gaps.addAll(r.gaps());
            tokens += r.tokens();
            prompt += Math.max(0, r.promptTokens());
        }
        Collections.sort(ttft);
        Collections.sort(gaps);
        int ok = results.size() - errors;
        double tps = tokens / wall;
        if (json) {
            System.out.printf(Locale.ROOT, "{\"clients\": %d, \"requests\": %d, \"errors\": %d, \"prompt_tokens_mean\": %.1f, "
                    + "\"completion_tokens\": %d, \"wall_s\": %.3f, \"tokens_per_s\": %.2f, \"ttft_p50_ms\": %.1f, "
                    + "\"ttft_p99_ms\": %.1f, \"itl_p50_ms\": %.2f, \"itl_p99_ms\": %.2f%s}%n", clients, results.size(),
                    errors, ok == 0 ? 0.0 : (double) prompt / ok, tokens, wall, tps, ms(pct(ttft, 50)), ms(pct(ttft, 99)),
                    ms(pct(gaps, 50)), ms(pct(gaps, 99)), metric != null
                            ? String.format(Locale.ROOT, ", \"%s_max\": %d", metric, metricMax)
                            : slotsBytesPerToken > 0
                            ? String.format(Locale.ROOT, ", \"slots_cache_bytes_max\": %d", metricMax) : "");
        } else {
            System.out.printf(Locale.ROOT, "%s  clients %d  requests %d (errors %d)  prompt ~%.0f tokens  generated %d "
                    + "tokens in %.2f s%n", url, clients, results.size(), errors, ok == 0 ? 0.0 : (double) prompt / ok,
                    tokens, wall);
            System.out.printf(Locale.ROOT, "aggregate %.2f tokens/s  TTFT p50 %.1f ms p99 %.1f ms  inter-token p50 %.2f ms "
                    + "p99 %.2f ms%n", tps, ms(pct(ttft, 50)), ms(pct(ttft, 99)), ms(pct(gaps, 50)), ms(pct(gaps, 99)));
            if (metric != null) System.out.println("max " + metric + " " + metricMax);
            if (metric == null && slotsBytesPerToken > 0) System.out.println("max cache bytes in use (/slots) " + metricMax);
        }
        if (firstError != null) System.err.println("first error: " + firstError);
        if (errors > 0) System.exit(1);
    }

    /** Nearest-rank percentile. */
    static long pct(List<Long> sorted, int p) {
        if (sorted.isEmpty()) return 0;
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    static double ms(long nanos) {
        return nanos / 1e6;
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }
}
