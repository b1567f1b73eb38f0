package org.mla4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;

import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;
import org.mla4j.Model;
import org.mla4j.StoriesGreedyTestAccess;
import org.mla4j.serve.BatchScheduler;

/**
 * The in-process models on stories260K (no chat template: a user message is continued as text), greedy: the reply
 * must be llama.cpp's greedy continuation of the prompt (the fixtures' reference).
 */
class Mla4jChatModelTest {
    static final String CONTINUATION = StoriesGreedyTestAccess.REFERENCE.substring(
            StoriesGreedyTestAccess.PROMPT.length());

    @Test
    void chatModelContinuesAsLlamaCppDoes() {
        Path model = Fixtures.require("models/stories260K.gguf");
        try (Mla4jChatModel m = Mla4jChatModel.builder().modelPath(model).temperature(0.0).maxTokens(60).build()) {
            ChatResponse r = m.chat(UserMessage.from(StoriesGreedyTestAccess.PROMPT));
            assertEquals(CONTINUATION, r.aiMessage().text());
            assertEquals(FinishReason.LENGTH, r.finishReason());
            assertEquals(5, r.tokenUsage().inputTokenCount());
            assertEquals(60, r.tokenUsage().outputTokenCount());
            // Per-request parameters override the model's defaults.
            ChatResponse shortOne = m.chat(ChatRequest.builder().messages(UserMessage.from(StoriesGreedyTestAccess.PROMPT))
                    .maxOutputTokens(5).stopSequences(List.of("was")).build());
            assertEquals(", there ", shortOne.aiMessage().text());
            assertEquals(FinishReason.STOP, shortOne.finishReason());
            assertThrows(UnsupportedFeatureException.class, () -> m.chat(ChatRequest.builder()
                    .messages(UserMessage.from("x")).toolSpecifications(ToolSpecification.builder().name("t").build())
                    .build()));
        }
    }

    @Test
    void streamingModelOnASharedSchedulerStreamsTheSameText() throws Exception {
        Path file = Fixtures.require("models/stories260K.gguf");
        try (Model model = Model.load(file); BatchScheduler s = BatchScheduler.start(model,
                BatchScheduler.Options.defaults().withThreads(1).withContextSize(512));
             Mla4jStreamingChatModel m = Mla4jStreamingChatModel.builder().scheduler(s).temperature(0.0)
                     .maxTokens(60).build()) {
            List<String> pieces = new ArrayList<>();
            CompletableFuture<ChatResponse> done = new CompletableFuture<>();
            m.chat(List.of(UserMessage.from(StoriesGreedyTestAccess.PROMPT)), new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(String partial) {
                    pieces.add(partial);
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
            assertEquals(CONTINUATION, r.aiMessage().text());
            assertEquals(CONTINUATION, String.join("", pieces));
            assertTrue(pieces.size() > 10, "streamed in pieces: " + pieces.size());
        }
    }
}
