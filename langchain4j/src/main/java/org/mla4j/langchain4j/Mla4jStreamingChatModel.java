package org.mla4j.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

import org.mla4j.serve.TokenStream;

/**
 * A LangChain4j {@link StreamingChatModel} that runs an mla4j model in-process. The handler is called on a virtual
 * thread of its own per request (never on the scheduler's engine thread, which serves every slot), with each piece
 * of text as it is generated, then the whole response. A handler that throws from onPartialResponse cancels the
 * generation.
 */
public final class Mla4jStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final Mla4jModels models;

    private Mla4jStreamingChatModel(Mla4jModels models) {
        this.models = models;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return models.defaults;
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        TokenStream stream;
        try {
            stream = models.scheduler.stream(Mla4jRequests.toRequest(request, models.scheduler, models.format,
                    models.extra));
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        Thread.ofVirtual().name("mla4j-langchain4j-stream").start(() -> deliver(stream, handler));
    }

    private void deliver(TokenStream stream, StreamingChatResponseHandler handler) {
        StringBuilder text = new StringBuilder();
        try {
            while (true) {
                TokenStream.Event e = stream.take();
                switch (e) {
                    case TokenStream.Started s -> { }
                    case TokenStream.Token t -> {
                        String piece = t.token().text();
                        if (piece.isEmpty()) continue;
                        text.append(piece);
                        try {
                            handler.onPartialResponse(piece);
                        } catch (RuntimeException ex) {
                            stream.cancel();
                            handler.onError(ex);
                            drain(stream);
                            return;
                        }
                    }
                    case TokenStream.Finished f -> {
                        handler.onCompleteResponse(ChatResponse.builder()
                                .aiMessage(AiMessage.from(text.toString()))
                                .modelName(models.modelName)
                                .tokenUsage(Mla4jRequests.usage(f.result()))
                                .finishReason(Mla4jRequests.finishReason(f.result()))
                                .build());
                        return;
                    }
                    case TokenStream.Failed f -> {
                        handler.onError(f.error());
                        return;
                    }
                }
            }
        } catch (InterruptedException ex) {
            stream.cancel();
            handler.onError(ex);
        }
    }

    /** Waits for the end of a cancelled stream, so that its slot is free when the handler returns. */
    private static void drain(TokenStream stream) throws InterruptedException {
        while (true) {
            TokenStream.Event e = stream.take(); // tokens generated before the cancel reached the engine are dropped
            if (e instanceof TokenStream.Finished || e instanceof TokenStream.Failed) return;
        }
    }

    @Override
    public void close() {
        models.close();
    }

    public static final class Builder extends Mla4jModels.Builder<Builder> {
        public Mla4jStreamingChatModel build() {
            return new Mla4jStreamingChatModel(Mla4jModels.of(this));
        }
    }
}
