package org.mla4j.server;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Typed reads of a request's JSON fields: a field that is absent or null reads as null; a field of the wrong JSON
 * type is a 400 naming it. Unknown fields are ignored, as OpenAI-compatible servers do.
 */
final class JsonFields {
    private final JsonNode body;

    JsonFields(JsonNode body) {
        if (body == null || !body.isObject()) throw ApiException.invalid(null, "invalid_json",
                "The request body must be a JSON object.");
        this.body = body;
    }

    JsonNode node(String name) {
        JsonNode n = body.get(name);
        return n == null || n.isNull() ? null : n;
    }

    Integer integer(String name) {
        JsonNode n = node(name);
        if (n == null) return null;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            // 3.0 is accepted as 3 (JavaScript clients send numbers as doubles)
            if (n.isNumber() && n.asDouble() == Math.rint(n.asDouble()) && Math.abs(n.asDouble()) < Integer.MAX_VALUE) {
                return (int) n.asDouble();
            }
            throw ApiException.wrongType(name, "an integer");
        }
        return n.intValue();
    }

    Long longValue(String name) {
        JsonNode n = node(name);
        if (n == null) return null;
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw ApiException.wrongType(name, "an integer");
        return n.longValue();
    }

    Double number(String name) {
        JsonNode n = node(name);
        if (n == null) return null;
        if (!n.isNumber()) throw ApiException.wrongType(name, "a number");
        return n.doubleValue();
    }

    Boolean bool(String name) {
        JsonNode n = node(name);
        if (n == null) return null;
        if (!n.isBoolean()) throw ApiException.wrongType(name, "a boolean");
        return n.booleanValue();
    }

    String string(String name) {
        JsonNode n = node(name);
        if (n == null) return null;
        if (!n.isTextual()) throw ApiException.wrongType(name, "a string");
        return n.textValue();
    }

    /** A string or an array of strings (OpenAI's "stop"); absent: an empty list. */
    List<String> stringOrStrings(String name) {
        JsonNode n = node(name);
        List<String> out = new ArrayList<>();
        if (n == null) return out;
        if (n.isTextual()) {
            out.add(n.textValue());
            return out;
        }
        if (!n.isArray()) throw ApiException.wrongType(name, "a string or an array of strings");
        for (JsonNode e : n) {
            if (!e.isTextual()) throw ApiException.wrongType(name, "a string or an array of strings");
            out.add(e.textValue());
        }
        return out;
    }

    /** An object field read with the same rules. */
    JsonFields object(String name) {
        JsonNode n = node(name);
        if (n == null) return null;
        if (!n.isObject()) throw ApiException.wrongType(name, "an object");
        return new JsonFields(n);
    }
}
