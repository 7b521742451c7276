"""Fakes of the servers the tests cannot reach, over real HTTP on 127.0.0.1.

One lifecycle for all (`server.FakeServer`): `telegram.FakeBotApi` (the Bot API),
`kakao_events.FakeKakaoEventApi` (Kakao's Event API), and in `kakao_skill` Kakao's
chatbot server calling the skill (`KakaoCaller`) and its callback URL
(`FakeKakaoCallback`).
"""
