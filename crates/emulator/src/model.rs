//! The toy "model": decides what the persona does with a typed user message. It has no
//! language skills, only a few trigger phrases (all case-insensitive) so that every feature of
//! the protocol can be exercised on demand:
//!
//! | The user's text contains | The persona |
//! |---|---|
//! | `open the pricing page` | calls the client tool `open_page` with `{"url": "/pricing"}` |
//! | `weather` | calls the server tool `get_weather` with `{"city": <word after "in", else London>}`; `Atlantis` fails |
//! | `context` | says the latest `context` it was given (or that it has none) |
//! | anything else | quotes the user back |
//! | `think` (in addition to any of the above) | first streams a short thought as `reasoningText` |
//!
//! The first matching row of the first three wins.
use serde_json::{json, Value};

/// Name of the client tool the toy model calls.
pub const CLIENT_TOOL: &str = "open_page";
/// Name of the server tool the toy model calls.
pub const SERVER_TOOL: &str = "get_weather";
/// City used when the user names none.
const DEFAULT_CITY: &str = "London";
/// The one city the weather service does not know.
const UNKNOWN_CITY: &str = "atlantis";
/// Longest stretch of the user's (or a tool's) words quoted back.
const MAX_QUOTE_CHARS: usize = 200;

/// What the persona does in answer to one user message.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Reasoning chunks to stream before acting (`reasoningText`), if the user asked it to think.
    pub thought: Option<Vec<String>>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Say this.
    Say(String),
    /// Ask the client to run a tool, then answer from its result.
    ClientTool { name: String, arguments: Value },
    /// Run a tool on the "server" (here: decided now, reported a moment later).
    ServerTool {
        name: String,
        subtype: String,
        arguments: Value,
        outcome: Result<Value, String>,
    },
}

/// Decides the persona's turn. `latest_context` is the newest `context` message of the session.
pub fn respond(persona_name: &str, user_text: &str, latest_context: Option<&str>) -> Turn {
    let lower = user_text.to_lowercase();
    let thought = lower.contains("think").then(|| thought_chunks(user_text));
    let action = if lower.contains("open the pricing page") {
        Action::ClientTool {
            name: CLIENT_TOOL.to_owned(),
            arguments: json!({"url": "/pricing"}),
        }
    } else if lower.contains("weather") {
        let city = weather_city(user_text);
        let outcome = if city.to_lowercase() == UNKNOWN_CITY {
            Err(format!("Unknown city: {city}"))
        } else {
            Ok(json!({"city": city, "forecast": "sunny", "temperatureC": 21}))
        };
        Action::ServerTool {
            name: SERVER_TOOL.to_owned(),
            subtype: "webhook".to_owned(),
            arguments: json!({ "city": city }),
            outcome,
        }
    } else if lower.contains("context") {
        Action::Say(
            match latest_context.map(str::trim).filter(|c| !c.is_empty()) {
                Some(c) => format!("The latest context I was given is: \"{}\".", quote(c)),
                None => "I have not been given any context yet.".to_owned(),
            },
        )
    } else {
        Action::Say(toy_reply(persona_name, user_text))
    };
    Turn { thought, action }
}

/// What the persona says once a tool call has finished (`Ok(result)`) or failed (`Err`).
pub fn after_tool(tool_name: &str, arguments: &Value, outcome: &Result<Value, String>) -> String {
    match (tool_name, outcome) {
        (SERVER_TOOL, Ok(result)) => {
            let city = result["city"].as_str().unwrap_or(DEFAULT_CITY);
            let forecast = result["forecast"].as_str().unwrap_or("unknown");
            let temp = &result["temperatureC"];
            format!("The forecast for {city} is {forecast}, {temp} degrees.")
        }
        (SERVER_TOOL, Err(_)) => {
            let city = arguments["city"].as_str().unwrap_or(DEFAULT_CITY);
            format!("I'm sorry, I couldn't get the weather for {}.", quote(city))
        }
        (_, Ok(result)) => {
            let text = match result {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("Done. The page says: \"{}\".", quote(&text))
        }
        (_, Err(_)) => "I'm sorry, I could not do that.".to_owned(),
    }
}

/// Two or three short reasoning chunks about the user's message; together one thought.
pub fn thought_chunks(user_text: &str) -> Vec<String> {
    vec![
        "Let me think about ".to_owned(),
        format!("\"{}\" ", quote(user_text.trim())),
        "before I answer.".to_owned(),
    ]
}

/// The word after "in" (punctuation trimmed, first letter capitalised), else London.
fn weather_city(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let after_in = words
        .windows(2)
        .find(|w| w.first().is_some_and(|w| w.eq_ignore_ascii_case("in")))
        .and_then(|w| w.get(1))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty());
    match after_in {
        Some(city) => capitalise(&city.chars().take(64).collect::<String>()),
        None => DEFAULT_CITY.to_owned(),
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// The text with whitespace runs squashed, clipped to [`MAX_QUOTE_CHARS`] with an ellipsis.
fn quote(text: &str) -> String {
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let quoted: String = words.chars().take(MAX_QUOTE_CHARS).collect();
    if quoted.len() < words.len() {
        format!("{quoted}…")
    } else {
        quoted
    }
}

/// The fallback answer: it proves the persona heard the user by quoting them.
pub fn toy_reply(persona_name: &str, user_text: &str) -> String {
    let words = quote(user_text);
    if words.is_empty() {
        return format!("I'm {persona_name}. I didn't catch that, could you say it again?");
    }
    format!("You said: \"{words}\". I'm {persona_name}, and I heard you.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_quotes_the_user() {
        let r = toy_reply("Aria", "  what   is the time ");
        assert!(r.contains("\"what is the time\""), "{r}");
        assert!(r.contains("Aria"));
        assert!(toy_reply("Aria", "").contains("didn't catch"));
        let long = "x".repeat(500);
        assert!(toy_reply("Aria", &long).chars().count() < 300);
        let plain = respond("Aria", "hello there", None);
        assert_eq!(plain.thought, None);
        assert_eq!(plain.action, Action::Say(toy_reply("Aria", "hello there")));
    }

    #[test]
    fn the_pricing_page_phrase_calls_the_client_tool() {
        let t = respond("Aria", "Please OPEN THE PRICING PAGE now", None);
        assert_eq!(
            t.action,
            Action::ClientTool {
                name: "open_page".to_owned(),
                arguments: json!({"url": "/pricing"})
            }
        );
        // Not quite the phrase: an ordinary reply.
        assert!(matches!(
            respond("Aria", "open the page", None).action,
            Action::Say(_)
        ));
        let said = after_tool(CLIENT_TOOL, &json!({}), &Ok(json!("Pricing: 9 EUR")));
        assert!(said.contains("Pricing: 9 EUR"), "{said}");
        let failed = after_tool(CLIENT_TOOL, &json!({}), &Err("boom".to_owned()));
        assert!(failed.contains("could not"), "{failed}");
    }

    #[test]
    fn weather_calls_the_server_tool_for_the_named_city() {
        let t = respond("Aria", "What's the weather in paris?", None);
        let Action::ServerTool {
            name,
            subtype,
            arguments,
            outcome,
        } = t.action
        else {
            panic!("not a server tool: {:?}", t.action);
        };
        assert_eq!(name, "get_weather");
        assert_eq!(subtype, "webhook");
        assert_eq!(arguments, json!({"city": "Paris"}));
        let result = outcome.unwrap();
        assert_eq!(
            result,
            json!({"city": "Paris", "forecast": "sunny", "temperatureC": 21})
        );
        let said = after_tool(SERVER_TOOL, &arguments, &Ok(result));
        assert!(said.contains("Paris") && said.contains("sunny"), "{said}");

        let default = respond("Aria", "weather please", None);
        assert!(
            matches!(default.action, Action::ServerTool { ref arguments, .. } if arguments["city"] == "London")
        );
        // A trailing "in" has no city after it.
        let trailing = respond("Aria", "how is the weather in", None);
        assert!(
            matches!(trailing.action, Action::ServerTool { ref arguments, .. } if arguments["city"] == "London")
        );
    }

    #[test]
    fn atlantis_fails() {
        let t = respond("Aria", "weather in ATLANTIS", None);
        let Action::ServerTool {
            arguments, outcome, ..
        } = t.action
        else {
            panic!("not a server tool");
        };
        assert_eq!(outcome, Err("Unknown city: Atlantis".to_owned()));
        let said = after_tool(SERVER_TOOL, &arguments, &outcome);
        assert!(
            said.contains("sorry") && said.contains("Atlantis"),
            "{said}"
        );
    }

    #[test]
    fn think_adds_a_thought_before_any_action() {
        let t = respond("Aria", "Think about the weather in Rome", None);
        let thought = t.thought.unwrap();
        assert!((2..=3).contains(&thought.len()));
        assert!(thought.concat().contains("Think about the weather in Rome"));
        assert!(matches!(t.action, Action::ServerTool { .. }));
    }

    #[test]
    fn context_questions_use_the_latest_context() {
        let t = respond(
            "Aria",
            "What context do you have?",
            Some("The user is Ada."),
        );
        assert_eq!(
            t.action,
            Action::Say("The latest context I was given is: \"The user is Ada.\".".to_owned())
        );
        let none = respond("Aria", "any context?", Some("   "));
        assert!(matches!(none.action, Action::Say(ref s) if s.contains("not been given")));
    }
}
