-- wrk script for scripts/load-serve.sh: every request is a Twilio-style form POST whose body
-- comes from the BODY environment variable.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
