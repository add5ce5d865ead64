"""Route constants shared by pages, states and the API (one place to rename a URL)."""

LOGIN = "/login"
SIGNUP = "/signup"
OVERVIEW = "/overview"
WIDGETS = "/widgets"
INTENTS = "/intents"  # the workspace's intents (widgets in intent/hybrid mode)
KNOWLEDGE = "/knowledge"
CONVERSATIONS = "/conversations"
CONVERSATION = "/conversations/[conversation_id]"
ANALYTICS = "/analytics"
INBOX = "/inbox"  # ?c=<conversation id> opens one
LEADS = "/leads"
API_KEYS = "/api-keys"
SETTINGS = "/settings"
TWO_FACTOR = "/two-factor"
INVITE = "/invite"  # /invite/<token>
FORGOT_PASSWORD = "/forgot-password"  # noqa: S105 (a URL)
RESET_PASSWORD = "/reset-password"  # noqa: S105 (a URL: /reset-password/<token>)
VERIFY_EMAIL = "/verify-email"  # /verify-email/<token>
EMBED = "/embed/[widget_id]"  # the chat page inside websites' iframes

AUTH_COMPLETE = "/api/auth/complete"
AUTH_LOGOUT = "/api/auth/logout"
OAUTH_PREFIX = "/api/auth/oauth"  # /api/auth/oauth/<provider>/start and /callback
HEALTH = "/api/health"

SESSION_COOKIE = "cc_session"
OAUTH_COOKIE = "cc_oauth"  # binds a sign-in redirect to the browser that started it
