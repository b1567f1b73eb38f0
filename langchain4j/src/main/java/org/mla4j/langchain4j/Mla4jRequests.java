package org.mla4j.langchain4j;

import java.util.ArrayList;
import java.util.List;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;

import org.mla4j.chat.ChatMessage;
import org.mla4j.serve.BatchScheduler;
import org.mla4j.serve.CompletionRequest;
import org.mla4j.serve.CompletionRequests;
import org.mla4j.serve.CompletionResult;

/**
 * LangChain4j's chat request to an mla4j {@link CompletionRequest}, through the same {@link CompletionRequests} code
 * the HTTP server uses (so an in-process model and `mla4j serve` give the same tokens for the same request).
 */
final class Mla4jRequests {
    private Mla4jRequests() {
    }

    /** Sampling settings LangChain4j's parameters do not carry, fixed per model. */
    record Extra(Double minP, Double repeatPenalty, Long seed) {
    }

    static CompletionRequest toRequest(ChatRequest request, BatchScheduler scheduler,
            org.mla4j.chat.ChatFormat format, Extra extra) {
        ChatRequestParameters p = request.parameters();
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("tools are not supported by mla4j");
        }
        if (p.responseFormat() != null && p.responseFormat().type() == ResponseFormatType.JSON) {
            throw new UnsupportedFeatureException("JSON response format is not supported by mla4j");
        }
        if (nonZero(p.frequencyPenalty()) || nonZero(p.presencePenalty())) {
            throw new UnsupportedFeatureException("frequency and presence penalties are not supported by mla4j");
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (dev.langchain4j.data.message.ChatMessage m : request.messages()) messages.add(convert(m));
        try {
            int[] prompt = CompletionRequests.chatPrompt(format, messages);
            CompletionRequests.Params params = new CompletionRequests.Params(p.maxOutputTokens(), p.temperature(),
                    p.topP(), p.topK(), extra.minP(), extra.repeatPenalty(), extra.seed(),
                    p.stopSequences() == null ? List.of() : p.stopSequences(), null, true, false);
            return CompletionRequests.build(prompt, params, "messages", scheduler.contextSize(),
                    scheduler.contextSize());
        } catch (org.mla4j.serve.InvalidRequestException e) {
            throw new InvalidRequestException(e.getMessage());
        }
    }

    private static boolean nonZero(Double d) {
        return d != null && d != 0;
    }

    private static ChatMessage convert(dev.langchain4j.data.message.ChatMessage m) {
        return switch (m) {
            case SystemMessage s -> ChatMessage.system(s.text());
            case UserMessage u -> ChatMessage.user(text(u));
            case AiMessage a -> {
                if (a.hasToolExecutionRequests()) throw new UnsupportedFeatureException("tool calls are not supported");
                yield ChatMessage.assistant(a.text() == null ? "" : a.text());
            }
            default -> throw new UnsupportedFeatureException("message type " + m.type() + " is not supported by mla4j");
        };
    }

    private static String text(UserMessage u) {
        StringBuilder sb = new StringBuilder();
        for (Content c : u.contents()) {
            if (!(c instanceof TextContent t)) {
                throw new UnsupportedFeatureException("only text content is supported by mla4j, got " + c.type());
            }
            sb.append(t.text());
        }
        return sb.toString();
    }

    static FinishReason finishReason(CompletionResult r) {
        return switch (r.finishReason()) {
            case END_OF_GENERATION, STOP_STRING -> FinishReason.STOP;
            case MAX_TOKENS, CONTEXT_FULL -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
        };
    }

    static TokenUsage usage(CompletionResult r) {
        return new TokenUsage(r.promptTokens(), r.completionTokens(), r.promptTokens() + r.completionTokens());
    }
}
