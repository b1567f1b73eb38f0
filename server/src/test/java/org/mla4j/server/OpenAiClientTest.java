package org.mla4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;
import org.mla4j.Generation;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.StoriesGreedyTestAccess;
import org.mla4j.langchain4j.Mla4jChatModel;
import org.mla4j.langchain4j.Mla4jStreamingChatModel;
import org.mla4j.sampling.SamplerConfig;

/**
 * LangChain4j's real OpenAI clients against {@code mla4j serve} on a loopback port, with the stories260K fixture
 * (no chat template: the conversation's texts follow each other), greedy. The first turn must continue the prompt
 * exactly as llama.cpp does (the reference text of the fixtures); the second turn must equal the Java API's
 * single-session generation on the same text, and the in-process mla4j-langchain4j models must say the same.
 */
class OpenAiClientTest {
    static final String CONTINUATION = StoriesGreedyTestAccess.REFERENCE.substring(
            StoriesGreedyTestAccess.PROMPT.length()); // ", there was a little girl named Lily. She loved ..."
    static Path model;
    static TestServer server;

    @BeforeAll
    static void start() {
        model = Fixtures.require("models/stories260K.gguf");
        server = TestServer.of(model);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    static OpenAiChatModel.OpenAiChatModelBuilder client() {
        return OpenAiChatModel.builder().baseUrl(server.base + "/v1").apiKey("unused").modelName("stories260K")
                .temperature(0.0).timeout(Duration.ofSeconds(60));
    }

    static List<ChatMessage> secondTurn(String firstReply) {
        return List.of(UserMessage.from(StoriesGreedyTestAccess.PROMPT), AiMessage.from(firstReply),
                UserMessage.from("Lily"));
    }

    @Test
    void twoTurnChatWithUsageMatchesLlamaCppAndTheJavaApi() {
        ChatModel openai = client().maxTokens(20).build();
        ChatResponse first = openai.chat(UserMessage.from(StoriesGreedyTestAccess.PROMPT));
        String reply1 = first.aiMessage().text();
        assertEquals(referenceText(20), reply1); // llama.cpp's first 20 greedy tokens
        assertTrue(CONTINUATION.startsWith(reply1));
        assertEquals(5, first.tokenUsage().inputTokenCount()); // BOS + 4 words, as llama.cpp tokenizes them
        assertEquals(20, first.tokenUsage().outputTokenCount());
        assertEquals(25, first.tokenUsage().totalTokenCount());
        assertEquals(FinishReason.LENGTH, first.finishReason());

        ChatResponse second = openai.chat(secondTurn(reply1));
        // The same text through the Java API alone: one session, the conversation's texts joined as the plain
        // format joins them (a user message after the assistant's starts a new line).
        String expected = javaApiGreedy(StoriesGreedyTestAccess.PROMPT + reply1 + "\nLily", 20);
        assertEquals(expected, second.aiMessage().text());
        assertEquals(20, second.tokenUsage().outputTokenCount());

        try (Mla4jChatModel local = Mla4jChatModel.builder().modelPath(model).temperature(0.0).maxTokens(20).build()) {
            assertEquals(reply1, local.chat(UserMessage.from(StoriesGreedyTestAccess.PROMPT)).aiMessage().text());
            ChatResponse r = local.chat(secondTurn(reply1));
            assertEquals(expected, r.aiMessage().text());
            assertEquals(20, r.tokenUsage().outputTokenCount());
        }
    }

    @Test
    void streamingGivesTheSameTextInPieces() throws Exception {
        StreamingChatModel openai = OpenAiStreamingChatModel.builder().baseUrl(server.base + "/v1").apiKey("unused")
                .modelName("stories260K").temperature(0.0).maxTokens(40).timeout(Duration.ofSeconds(60)).build();
        Streamed s = stream(openai, List.of(UserMessage.from(StoriesGreedyTestAccess.PROMPT)));
        assertTrue(s.pieces.size() >= 10, "streamed in pieces: " + s.pieces);
        assertEquals(String.join("", s.pieces), s.response.aiMessage().text());
        assertTrue(CONTINUATION.startsWith(s.response.aiMessage().text()));
        assertEquals(40, s.response.tokenUsage().outputTokenCount()); // stream_options.include_usage
        assertEquals(5, s.response.tokenUsage().inputTokenCount());

        try (Mla4jStreamingChatModel local = Mla4jStreamingChatModel.builder().modelPath(model).temperature(0.0)
                .maxTokens(40).build()) {
            Streamed l = stream(local, List.of(UserMessage.from(StoriesGreedyTestAccess.PROMPT)));
            assertEquals(s.response.aiMessage().text(), l.response.aiMessage().text());
            assertEquals(String.join("", l.pieces), l.response.aiMessage().text());
            assertEquals(40, l.response.tokenUsage().outputTokenCount());
        }
    }

    @Test
    void stopStringsEndTheReplyBeforeThem() {
        ChatModel openai = client().maxTokens(60).stop(List.of(" named", "ball")).build();
        ChatResponse r = openai.chat(UserMessage.from(StoriesGreedyTestAccess.PROMPT));
        String beforeNamed = CONTINUATION.substring(0, CONTINUATION.indexOf(" named"));
        assertEquals(", there was a little girl", beforeNamed);
        assertEquals(beforeNamed, r.aiMessage().text());
        assertEquals(FinishReason.STOP, r.finishReason());
        try (Mla4jChatModel local = Mla4jChatModel.builder().modelPath(model).temperature(0.0).maxTokens(60)
                .stop(List.of(" named", "ball")).build()) {
            ChatResponse l = local.chat(UserMessage.from(StoriesGreedyTestAccess.PROMPT));
            assertEquals(beforeNamed, l.aiMessage().text());
            assertEquals(FinishReason.STOP, l.finishReason());
        }
        // A stop string inside a token: "outs" ends inside "outside"; the reply keeps the token's text before it.
        ChatResponse cut = client().maxTokens(60).stop(List.of("tside")).build()
                .chat(UserMessage.from(StoriesGreedyTestAccess.PROMPT));
        assertEquals(CONTINUATION.substring(0, CONTINUATION.indexOf("tside")), cut.aiMessage().text());
    }

    record Streamed(List<String> pieces, ChatResponse response) {
    }

    static Streamed stream(StreamingChatModel m, List<ChatMessage> messages) throws Exception {
        List<String> pieces = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        m.chat(ChatRequest.builder().messages(messages).build(), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                synchronized (pieces) {
                    pieces.add(partial);
                }
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        synchronized (pieces) {
            return new Streamed(List.copyOf(pieces), r);
        }
    }

    /** The text of llama.cpp's first n greedy tokens after the prompt (the fixtures' reference ids). */
    static String referenceText(int n) {
        try (Model m = Model.load(model)) {
            var decoder = m.tokenizer().newStreamDecoder();
            StringBuilder sb = new StringBuilder();
            int[] ids = StoriesGreedyTestAccess.greedyIds();
            for (int i = 0; i < n; i++) sb.append(decoder.push(ids[i]));
            return sb.toString();
        }
    }

    static String javaApiGreedy(String prompt, int n) {
        try (Model m = Model.load(model); Session s = m.newSession(Session.Options.defaults().withThreads(1))) {
            Generation g = new Generation(s, m.tokenizer(), prompt, Generation.Options.of(n, SamplerConfig.greedy()));
            StringBuilder sb = new StringBuilder();
            g.run(t -> {
                sb.append(t.text());
                return true;
            });
            return sb.toString();
        }
    }
}
